import Foundation
import KeepCore
import KeepPolicy
import Testing

/// Hot reload (SPEC §4), driven by calling `reload()` as the watcher would.
@Suite struct PolicyReloadTests {
    func write(_ folder: String, _ file: String, _ text: String) throws {
        try text.write(toFile: folder + "/" + file, atomically: true, encoding: .utf8)
    }

    func rejection(_ registry: PolicyRegistry, title: String = "t") -> String? {
        do {
            try registry.validate(candidate(title: title))
            return nil
        } catch {
            return error.message
        }
    }

    @Test func aValidEditTakesEffect() throws {
        let folder = try policyFolder()
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        #expect(rejection(registry, title: "a title of 20 chars!") == nil)
        try write(folder, "validation.lua", "return { rules = { short = function(doc) if #doc.title > 10 then return 'at most 10' end end } }")
        let status = registry.reload()
        #expect(status.version == 2 && status.lastError == nil)
        #expect(rejection(registry, title: "a title of 20 chars!") == "at most 10")
    }

    @Test(arguments: [
        ("validation.lua", "return { rules = { x = function( } }", "policies/validation.lua:1:"),
        ("validation.lua", "local x = nil\nreturn x.y", "policies/validation.lua:2: attempt to index a nil value"),
        ("retry.lua", "return { default = 5 }", "policies/retry.lua: default must be a function"),
        ("save.lua", "while true do end", "policies/save.lua: instruction budget"),
    ])
    func aBrokenEditKeepsThePreviousSetAndReportsTheError(file: String, text: String, expected: String) throws {
        let folder = try policyFolder()
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        let good = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
        try write(folder, file, text)
        let failed = registry.reload()
        #expect(failed.version == 1)
        #expect(failed.lastError?.contains(expected) == true, "\(failed.lastError ?? "no error")")
        #expect(rejection(registry, title: "   ") == "title is empty; give 1 to 50 characters", "the previous set still decides")
        try write(folder, file, good)
        let fixed = registry.reload()
        #expect(fixed.version == 2 && fixed.lastError == nil)
    }

    @Test func aDeletedFileKeepsThePreviousSet() throws {
        let folder = try policyFolder()
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        try FileManager.default.removeItem(atPath: folder + "/validation.lua")
        let status = registry.reload()
        #expect(status.version == 1 && status.lastError?.contains("policies/validation.lua is missing") == true)
        #expect(rejection(registry, title: "") == "title is empty; give 1 to 50 characters")
    }

    @Test func evaluationsDuringContinuousReloadsSeeOneWholeSet() async throws {
        let folder = try policyFolder()
        func set(_ name: String) -> String {
            "return { rules = { a = function() return '\(name)' end, b = function() return '\(name)' end } }"
        }
        try write(folder, "validation.lua", set("A"))
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        let seen = try await withThrowingTaskGroup(of: Set<String>.self) { group in
            for _ in 0 ..< 4 {
                group.addTask {
                    var messages = Set<String>()
                    for _ in 0 ..< 400 {
                        do throws(KeepError) { try registry.validate(candidate()) } catch { messages.insert(error.message) }
                    }
                    return messages
                }
            }
            for round in 0 ..< 40 {
                try write(folder, "validation.lua", set(round % 2 == 0 ? "B" : "A"))
                registry.reload()
            }
            return try await group.reduce(into: Set<String>()) { $0.formUnion($1) }
        }
        #expect(seen.isSubset(of: ["A; A", "B; B"]), "\(seen)")
        #expect(registry.status.version == 41)
    }

    @Test func theWatcherReloadsWhenAFileIsSaved() throws {
        let folder = try policyFolder()
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        let watcher = try PolicyWatcher(registry: registry)
        defer { watcher.stop() }
        try write(folder, "validation.lua", "return { rules = { no = function() return 'changed' end } }")
        // inotify delivers the event asynchronously: wait for it, bounded.
        let deadline = ContinuousClock.now + .seconds(5)
        while registry.status.version < 2 && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        #expect(registry.status.version >= 2)
        #expect(rejection(registry) == "changed")
    }
}
