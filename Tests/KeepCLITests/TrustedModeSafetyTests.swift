import Foundation
import Testing

/// Trusted mode (`keep run`, the REPL) runs the user's own code with the full
/// library, yet no Lua input may crash the process: the audit's repros end
/// with a Lua error (exit 1), never a signal.
@Suite struct TrustedModeSafetyTests {
    func run(_ code: String, _ options: [String] = []) throws -> MeasuredRun {
        let work = try KeepBinary.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let script = work.appendingPathComponent("repro.lua")
        try code.write(to: script, atomically: true, encoding: .utf8)
        return try MeasuredRun.run(["--db", work.appendingPathComponent("keep.sqlite").path, "--user", "ana", "run"]
                                   + options + [script.path], directory: work)
    }

    /// Objects outlive the `keep` table they came from: their methods that
    /// need it answer an error instead of reaching a destroyed object.
    @Test(arguments: [
        "local s = keep.sessions.create{title = 'x', content = {}}\nkeep = nil\ncollectgarbage() collectgarbage()\ns:update{title = 'y'}",
        "local s = keep.sessions.create{title = 'x', content = {}}\nkeep = nil\ncollectgarbage() collectgarbage()\ns:snapshot{}",
        "local p = keep.snapshots.create{title = 'x', content = {}}\nkeep = nil\ncollectgarbage() collectgarbage()\np:delete()",
        "local p = keep.snapshots.create{title = 'x', content = {}}\nkeep = nil\ncollectgarbage() collectgarbage()\np:to_session{}",
    ])
    func methodsOfObjectsWhoseKeepTableWasCollected(_ code: String) throws {
        let run = try run(code)
        #expect(run.signal == nil)
        #expect(run.status == 1)
        #expect(run.stderr.contains("the keep API this object came from is gone"), "\(run.stderr)")
    }

    /// A finalizer run while the state closes calls keep.activity.subscribe:
    /// the call fails inside the finalizer (Lua reports finalizer errors as
    /// warnings), and the process ends normally.
    @Test func finalizerSubscribingWhileTheStateCloses() throws {
        let run = try run("""
            local activity = keep.activity
            collected = setmetatable({}, { __gc = function() activity.subscribe(function() end) end })
            print("done")
            """)
        #expect(run.signal == nil)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "done\n")
    }

    /// A finalizer that changes the table json.encode is walking cannot run
    /// during the walk, and the memory budget still holds afterwards.
    @Test func finalizerChangingTheTableJSONEncodeWalks() throws {
        let run = try run("""
            local t = {}
            for i = 1, 5000 do t[i * 2] = i end
            for _ = 1, 5000 do
              setmetatable({}, { __gc = function()
                for j = 1, 50 do t[-j - math.random(1, 1e9)] = j end
                t[2] = nil
              end })
            end
            assert(#json.encode(t) > 0)
            local ok, err = pcall(string.rep, "x", 600 * 1024 * 1024)
            print("after", ok)
            """, ["--max-memory", "64MiB"])
        #expect(run.signal == nil)
        #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
        #expect(run.stderr.hasPrefix("keep: limit: memory budget of 64.00 MiB exceeded"), "\(run.stderr)")
        #expect(run.peakMemory < 400 << 20)
    }

    /// Binary chunks can crash Lua 5.4.4 (a damaged one segfaults the
    /// loader): even trusted states load text only.
    @Test func binaryChunksAreRefusedInTrustedStatesToo() throws {
        let run = try run("assert(load(string.dump(function() return 1 end), 'f', 'b'))")
        #expect(run.signal == nil)
        #expect(run.status == 1)
        #expect(run.stderr.contains("attempt to load a binary chunk"), "\(run.stderr)")
    }

    /// dofile, loadfile and require compile through the same checked, budgeted
    /// load: a file with code Lua 5.4.4 miscompiles (a segfault in stock
    /// lua5.4) is refused, not run.
    @Test(arguments: ["dofile(PATH)", "assert(loadfile(PATH))()", "package.path = DIR .. '/?.lua' require('crash')"])
    func filesLoadThroughTheCheckedLoad(_ call: String) throws {
        let work = try KeepBinary.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        try """
            local mt = {__close = function() end}
            local function f()
              for k in next, {1, 2, 3}, nil, setmetatable({}, mt) do local g = function() return k end break end
              local a <close> = setmetatable({}, mt)
            end
            for _ = 1, 1000 do f() end
            """.write(to: work.appendingPathComponent("crash.lua"), atomically: true, encoding: .utf8)
        let code = call.replacingOccurrences(of: "PATH", with: "'\(work.path)/crash.lua'")
            .replacingOccurrences(of: "DIR", with: "'\(work.path)'")
        let run = try run(code)
        #expect(run.signal == nil)
        #expect(run.status == 1)
        #expect(run.stderr.contains("refused: a 'break' out of a generic 'for'"), "\(run.stderr)")
    }

    /// os.date formats long formats piece by piece: the result is the one
    /// stock Lua gives, also when the format ends in "*t".
    @Test func longDateFormatsMatchStockLua() throws {
        let run = try run("print(#os.date(('x'):rep(256) .. '*t', 0), #os.date(('%Y'):rep(300), 0))")
        #expect(run.stdout == "258\t1200\n", "\(run.stderr)")
    }

    /// keep.as and keep.jobs are for the user's own trusted scripts; a
    /// sandboxed run sees no `keep` at all. keep.activity's metatable is hidden.
    @Test func keepAsAndJobsOnlyInTrustedStates() throws {
        let sandboxed = try run("print(keep)", ["--sandbox"])
        #expect(sandboxed.stdout == "nil\n", "\(sandboxed.stderr)")
        let trusted = try run("print(type(keep.as), type(keep.jobs), getmetatable(keep.activity))")
        #expect(trusted.stdout == "function\ttable\tfalse\n", "\(trusted.stderr)")
    }
}
