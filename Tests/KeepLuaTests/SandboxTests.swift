import Foundation
import KeepCore
import Testing
@testable import KeepLua

/// One script of the hostile corpus (Tests/Fixtures/hostile), with the outcome
/// its first line announces: `-- expect: limit`, `-- expect: ok` or
/// `-- expect: error: <text the message contains>`.
struct HostileScript: CustomStringConvertible {
    let name: String
    let source: String
    let expectation: String
    var description: String { name }

    static let directory = fixturesDirectory + "/hostile"

    static func all() throws -> [HostileScript] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".lua") }.sorted().map { name in
            let source = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            let first = source.prefix { $0 != "\n" }
            guard first.hasPrefix("-- expect: ") else { throw KeepError(.invalid, "\(name) has no expect line") }
            return HostileScript(name: name, source: source, expectation: String(first.dropFirst("-- expect: ".count)))
        }
    }
}

@Suite(.serialized) struct SandboxTests {
    static let budget = LuaBudget(instructions: 5_000_000, memory: 32 << 20, time: .seconds(2))

    /// What a well-behaved script sees after any hostile one ran in the same state.
    static let normalScript = """
        local words = {}
        for word in ("alpha beta"):gmatch("%a+") do words[#words + 1] = word:upper() end
        return string.rep("ab", 2), type(print), type(pairs), leaked, math.floor(1.5),
               table.concat(words, ","), getmetatable("") , io, os.execute
        """

    @Test func corpusHasAtLeast25Scripts() throws {
        #expect(try HostileScript.all().count >= 25)
    }

    @Test(arguments: try HostileScript.all())
    func hostileScriptEndsClearlyAndTheNextRunsNormally(_ script: HostileScript) throws {
        let state = try LuaState(trust: .sandboxed(roots: [HostileScript.directory]))
        for round in 1 ... 2 {  // the same state survives it twice
            let started = ContinuousClock.now
            var failure: LuaError?
            do {
                _ = try state.execute(Array(script.source.utf8), chunkName: "@hostile/\(script.name)",
                                      budget: Self.budget)
            } catch {
                failure = error
            }
            let elapsed = ContinuousClock.now - started
            switch script.expectation {
            case "ok":
                #expect(failure == nil, "round \(round): \(failure?.message ?? "")")
            case "limit":
                #expect(failure?.keepError?.code == .limit, "round \(round): \(failure?.message ?? "no error")")
            default:
                let wanted = String(script.expectation.dropFirst("error: ".count))
                #expect(failure != nil && failure!.message.contains(wanted),
                        "round \(round): wanted '\(wanted)', got \(failure?.message ?? "no error")")
            }
            #expect(elapsed < .seconds(5), "took \(elapsed)")
            #expect(state.memoryPeak <= (32 << 20) + (1 << 20), "peak heap \(state.memoryPeak) bytes")
            let normal = try state.execute(Self.normalScript, chunkName: "=normal", budget: Self.budget)
            #expect(normal == [LuaValue("abab"), LuaValue("function"), LuaValue("function"), .nil,
                               .integer(1), LuaValue("ALPHA,BETA"), .boolean(false), .nil, .nil])
            // Lua gives back a grown stack gradually, halving it each full collection.
            _ = try state.execute("for _ = 1, 5 do collectgarbage() end")
            #expect(state.memoryInUse < 2 << 20, "heap after collection: \(state.memoryInUse)")
        }
    }

    @Test func requireLoadsModulesBelowTheRootOnly() throws {
        let root = NSTemporaryDirectory() + "keep-sandbox-\(UUID().uuidString)/policies"
        let outside = root + "/../outside.lua"
        try FileManager.default.createDirectory(atPath: root + "/lib", withIntermediateDirectories: true)
        try "return { twice = function(x) return 2 * x end }".write(toFile: root + "/lib/util.lua", atomically: true, encoding: .utf8)
        try "return 'outside'".write(toFile: outside, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/escape.lua", withDestinationPath: outside)
        try "error('where am I')".write(toFile: root + "/lib/broken.lua", atomically: true, encoding: .utf8)
        let state = try LuaState(trust: .sandboxed(roots: [root]))
        #expect(try state.first("return require('lib.util').twice(21)") == .integer(42))
        #expect(try state.first("return require('lib.util') == require('lib.util')") == .boolean(true))
        let escape = try #require(throws: LuaError.self) { try state.execute("require('escape')") }
        #expect(escape.message.contains("resolves outside the script root"))
        let missing = try #require(throws: LuaError.self) { try state.execute("require('nope')", chunkName: "@policies/x.lua") }
        #expect(missing.message.hasPrefix("policies/x.lua:1: require: module 'nope' not found"))
        let broken = try #require(throws: LuaError.self) { try state.execute("require('lib.broken')") }
        #expect(broken.message == "policies/lib/broken.lua:1: where am I")
    }

    @Test func loadDefaultsToTheSandboxAndAcceptsAnExplicitEnvironment() throws {
        let state = try LuaState(trust: .sandboxed(roots: []))
        #expect(try state.first("x = 5; return load('return x')()") == .integer(5))
        #expect(try state.first("return load('return y', 'c', 't', { y = 7 })()") == .integer(7))
        #expect(try state.first("return load('return io')()") == .nil)
    }

    @Test func eachChunkGetsItsOwnGlobals() throws {
        let state = try LuaState(trust: .sandboxed(roots: []))
        _ = try state.execute("shared = 1; string.upper = nil")
        #expect(try state.first("return shared") == .nil)
        #expect(try state.first("return string.upper('a')") == LuaValue("A"))
    }

    @Test func trustedStatesHaveTheFullLibrary() throws {
        let state = try LuaState(trust: .trusted)
        let values = try state.execute("return type(io.open), type(os.execute), type(debug.traceback), type(require)")
        #expect(values == [LuaValue("function"), LuaValue("function"), LuaValue("function"), LuaValue("function")])
    }

    @Test func interruptStopsAnInterruptibleCall() throws {
        let state = try LuaState()
        LuaState.clearInterrupt()
        // The script asks for the interrupt itself, as a signal handler would.
        state.stack.pushFunction(named: "interrupt") { _ in LuaState.requestInterrupt(); return 0 }
        state.stack.setGlobal("interrupt")
        let error = try #require(throws: LuaError.self) {
            try state.execute("interrupt(); while true do end", budget: LuaBudget(interruptible: true))
        }
        #expect(error.keepError?.code == .interrupted)
        LuaState.clearInterrupt()
        #expect(try state.first("return 1 + 1", budget: LuaBudget(interruptible: true)) == .integer(2))
    }

    /// Ctrl-C between two REPL inputs: the chunk still compiles (no call is
    /// in progress), the next interruptible call is stopped, and nothing of
    /// the interrupt is left for later compiles (it once stuck, and every
    /// later input answered "interrupted").
    @Test func anInterruptBetweenCallsStopsTheNextCallAndNothingLater() throws {
        let state = try LuaState()
        #expect(try state.first("return 1", budget: LuaBudget(interruptible: true)) == .integer(1))
        LuaState.requestInterrupt()
        try state.compile(Array("return 2".utf8), chunkName: "=before")
        state.stack.pop()
        let error = try #require(throws: LuaError.self) {
            try state.execute("return 3", budget: LuaBudget(interruptible: true))
        }
        #expect(error.keepError?.code == .interrupted)
        try state.compile(Array("return 4".utf8), chunkName: "=after")
        state.stack.pop()
        #expect(try state.first("return 5", budget: LuaBudget(interruptible: true)) == .integer(5))
    }

    @Test func memoryOverdraftInsideAHostFunctionRaisesAfterItReturns() throws {
        let state = try LuaState()
        state.stack.pushFunction(named: "big") { stack in
            stack.push(bytes: [UInt8](repeating: 0x78, count: 4 << 20))
            return 1
        }
        state.stack.setGlobal("big")
        let error = try #require(throws: LuaError.self) {
            try state.execute("keep_it = big(); return #keep_it", budget: LuaBudget(memory: 2 << 20))
        }
        #expect(error.keepError?.code == .limit)
        // Garbage made by a host function does not count once collected.
        #expect(try state.first("big() return 1", budget: LuaBudget(memory: 8 << 20)) == .integer(1))
    }
}
