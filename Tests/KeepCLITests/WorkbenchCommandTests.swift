import Foundation
import KeepTestSupport
import Testing

/// `keep.workbench` and `keep.activity` through the built binary: each
/// `keep run` is one process, so copies meet across processes as editors do.
@Suite struct WorkbenchCommandTests {
    let directory: URL
    init() throws { directory = try KeepBinary.temporaryDirectory() }

    var environment: [String: String] {
        ["HOME": directory.path, "PATH": "/usr/bin:/bin", "XDG_STATE_HOME": directory.appendingPathComponent("state").path,
         "KEEP_DB": directory.appendingPathComponent("keep.sqlite").path, "KEEP_USER": "ana"]
    }

    func keep(_ code: String, policies: String? = nil) throws -> KeepBinary.Result {
        try KeepBinary.run((policies.map { ["--policies", $0] } ?? []) + ["run", "-e", code], environment: environment)
    }

    /// A policy folder: the shipped one with `on_conflict` returning `choice`.
    func policies(onConflict choice: String) throws -> String {
        let folder = directory.appendingPathComponent("policies-\(choice)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let shipped = Checkout.policies.path
        for file in ["validation.lua", "retry.lua"] {
            try FileManager.default.copyItem(atPath: shipped + "/" + file, toPath: folder + "/" + file)
        }
        try "return { on_conflict = function() return \(choice) end }".write(toFile: folder + "/save.lua", atomically: true, encoding: .utf8)
        return folder
    }

    static let dashboards = #"{"dashboards":[{"id":"d1","name":"Logs"},{"id":"d2","name":"Map"}],"version":3}"#

    func createSession() throws -> String {
        let created = try keep("io.write(keep.sessions.create{title = 'Field study', content = [[\(Self.dashboards)]]}.id)")
        #expect(created.status == 0, "\(created.stderr)")
        return created.stdout
    }

    @Test func workingCopyFieldsAndMethods() throws {
        let id = try createSession()
        let result = try keep("""
            local w = keep.workbench.open("\(id)")
            print(w.id == "\(id)", w.has_changes, w.out_of_sync, w.backend_version, w.base_version, w.last_modified)
            w:edit(function(doc) doc.dashboards[1].name = "Wells" end)
            w.title = "Field study 2"
            print(w.has_changes, w.title, w:data().dashboards[1].name, w.last_modified ~= nil)
            print(w:save())
            print(w.has_changes, w.backend_version, keep.sessions.get("\(id)").title)
            print(w:save())
            w:set{version = 4}
            print(w:save())
            print(w:poll(), w.content == json.encode({version = 4}, {canonical = true}), w:data().version)
            local s = w:snapshot{title = "frozen"}
            print(s.title, s.content == w.content)
            print(w:close(), w.closed, pcall(w.set, w, "{}"))
            local n = keep.workbench.new{title = "Draft", content = {a = 1}}
            print(n.id, n.has_changes, n:save())
            print(n.id ~= nil, n.base_version, keep.sessions.get(n.id):data().a)
            print(#keep.workbench.copies(), tostring(n):match("^WorkingCopy<"))
            print(keep.workbench.open(keep.sessions.get(n.id)).id == n.id)
            """)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "true\tfalse\tfalse\t1\t1\tnil")
        #expect(lines[1] == "true\tField study 2\tWells\ttrue")
        #expect(lines[2] == "saved\tupdated")
        #expect(lines[3] == "false\t2\tField study 2")
        #expect(lines[4] == "no_changes")
        #expect(lines[5] == "saved\tupdated")
        #expect(lines[6] == "false\ttrue\t4")
        #expect(lines[7] == "frozen\ttrue")
        #expect(lines[8].hasPrefix("closed\ttrue\tfalse\tinvalid: working copy "))
        #expect(lines[9] == "nil\ttrue\tsaved\tcreated")
        #expect(lines[10] == "true\t1\t1")
        #expect(lines[11] == "1\tWorkingCopy<")
        #expect(lines[12] == "true")
        #expect(result.stderr.isEmpty)
        // The store was closed at exit (log folded in): the file alone holds everything.
        let log = directory.appendingPathComponent("keep.sqlite-wal").path
        let logBytes = (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0
        #expect(logBytes == 0)
    }

    @Test func badArgumentsSayWhatIsAllowed() throws {
        let id = try createSession()
        let result = try keep("""
            local w = keep.workbench.open("\(id)")
            print(select(2, pcall(w.close, w, {discrad = true})))
            print(select(2, pcall(w.set, w, 42)))
            print(select(2, pcall(keep.activity.set, "asleep")))
            print(select(2, pcall(keep.workbench.recover, "AAAAAAAAAAAA")))
            print(select(2, pcall(w.reload, w, {discard = "yes"})))
            print(select(2, pcall(function() w.title = 5 end)))
            print(select(2, pcall(w.edit, w, function(doc) return #doc.dashboards end)), w.has_changes)
            """)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "invalid: WorkingCopy:close: unknown option 'discrad'; allowed: discard")
        #expect(lines[1].contains("content (a string or a table) expected, got number"))
        #expect(lines[2].contains("\"active\", \"visible\" or \"hidden\" expected, got \"asleep\""))
        #expect(lines[3].hasPrefix("not_found: no recoverable working copy AAAAAAAAAAAA for ana"))
        #expect(lines[4].contains("discard"))
        #expect(lines[5].contains("WorkingCopy.title must be a string, got number"))
        #expect(lines[6] == "invalid: WorkingCopy:edit: the function returned a number; change the data in place and return nothing, or return a table or a string (the new content)\tfalse")
    }

    @Test func activityObserverAndSubscriptions() throws {
        let result = try keep("""
            local seen = {}
            print(keep.activity.state)
            local sub = keep.activity.subscribe(function(new, old) seen[#seen + 1] = old .. ">" .. new end)
            keep.activity.set("active")
            keep.activity.set("active")
            keep.activity.set("hidden")
            sub:cancel()
            keep.activity.set("visible")
            print(table.concat(seen, " "), keep.activity.state, sub.cancelled)
            keep.activity.subscribe(function() error("boom") end)
            keep.activity.set("active")
            print("still running")
            """)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "visible\nvisible>active active>hidden\tvisible\ttrue\nstill running\n")
        #expect(result.stderr.contains("keep.activity subscriber failed") && result.stderr.contains("boom"))
    }

    @Test func unsavedCopiesAreJournaledAtExitAndRecoverable() throws {
        let id = try createSession()
        let first = try keep("""
            local w = keep.workbench.open("\(id)")
            w:set("edited but not saved")
            """)
        #expect(first.status == 0)
        #expect(first.stderr.contains("1 working copy has unsaved changes; they are kept for keep.workbench.recoverable()"))
        let second = try keep("""
            local list = keep.workbench.recoverable()
            print(#list, list[1].session_id == "\(id)", list[1].title, list[1].bytes, list[1].base_version)
            local w = keep.workbench.recover(list[1])
            print(w.content, w.has_changes, w:close{discard = true})
            print(#keep.workbench.recoverable())
            """)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout == "1\ttrue\tField study\t20\t1\nedited but not saved\ttrue\tdiscarded\n0\n")
        let otherUser = try KeepBinary.run(["--user", "bob", "run", "-e", "print(#keep.workbench.recoverable())"],
                                           environment: environment)
        #expect(otherUser.stdout == "0\n")
    }

    @Test func osExitJournalsUnsavedCopiesFirst() throws {
        let id = try createSession()
        let exited = try keep("local w = keep.workbench.open('\(id)') w:set('typed just before exit') os.exit(3)")
        #expect(exited.status == 3)
        #expect(exited.stderr.contains("1 working copy has unsaved changes; they are kept"))
        let next = try keep("print(keep.workbench.recoverable()[1].bytes, keep.workbench.recoverable()[1].running)")
        #expect(next.stdout == "22\tfalse\n", "\(next.stderr)")
        // A bad argument raises before anything is closed: the script goes on with its store and copies.
        let caught = try keep("""
            local w = keep.workbench.open('\(id)')
            print(pcall(os.exit, "bye"))
            w:set("still here")
            print(w:save(), #keep.sessions.list{}.items)
            """)
        #expect(caught.status == 0, "\(caught.stderr)")
        #expect(caught.stdout.hasSuffix("saved\t1\n") && caught.stdout.hasPrefix("false\t"))
    }

    @Test func waitStopsForCtrlCEvenInsidePcallAndForTheTimeLimit() throws {
        let script = "print('waiting') io.stdout:flush() while true do pcall(keep.workbench.wait, 1000) end"
        let waiting = try KeepBinary.start(["run", "-e", script], environment: environment)
        let output = (waiting.standardOutput as! Pipe).fileHandleForReading
        #expect(String(decoding: output.availableData, as: UTF8.self) == "waiting\n")
        kill(waiting.processIdentifier, SIGINT)
        let result = try KeepBinary.finish(waiting)
        #expect(result.status == 130, "\(result.stderr)")

        let started = ContinuousClock.now
        let limited = try KeepBinary.run(["run", "--timeout", "1s", "-e", "pcall(keep.workbench.wait, 600000) while true do end"],
                                         environment: environment)
        #expect(limited.status == 1 && limited.stderr.contains("limit"), "\(limited.stderr)")
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    /// Acceptance 2: a process with unsaved edits is killed; the next one
    /// lists the copy and recovers the exact content. Meanwhile another
    /// process saved an edit to another dashboard; the recovered copy's save
    /// merges both (save.lua: on_conflict = merge).
    @Test func killedProcessLeavesItsEditsRecoverable() throws {
        let id = try createSession()
        let policies = try policies(onConflict: "'merge'")
        // Content the journal must keep byte for byte: big, non-ASCII, numbers beyond doubles.
        let script = """
            local w = keep.workbench.open("\(id)")
            w:edit(function(doc)
              doc.dashboards[1].name = "Wells Ærø 📈"
              doc.dashboards[1].notes = string.rep("porosity ∆t ", 20000)
            end)
            keep.workbench.wait(400)
            print("journaled " .. #w.content)
            io.stdout:flush()
            while true do keep.workbench.wait(1000) end
            """
        let editor = try KeepBinary.start(["--policies", policies, "run", "-e", script], environment: environment)
        let output = (editor.standardOutput as! Pipe).fileHandleForReading
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let announced = String(decoding: line, as: UTF8.self)
        #expect(announced.hasPrefix("journaled "), "\(announced)")
        kill(editor.processIdentifier, SIGKILL)
        editor.waitUntilExit()
        #expect(editor.terminationReason == .uncaughtSignal)

        let other = try keep("""
            local s = keep.sessions.get("\(id)")
            local doc = s:data()
            doc.dashboards[2].name = "Their map"
            s:update{content = doc}
            """)
        #expect(other.status == 0, "\(other.stderr)")

        let recovered = try keep("""
            local list = keep.workbench.recoverable()
            assert(#list == 1, #list)
            local w = keep.workbench.recover(list[1])
            local doc = w:data()
            print(#w.content, doc.dashboards[1].name, doc.dashboards[1].notes == string.rep("porosity ∆t ", 20000))
            print(w.has_changes, w.out_of_sync, w.base_version, w.backend_version)
            print(w:save())
            local stored = keep.sessions.get("\(id)"):data()
            print(stored.dashboards[1].name, stored.dashboards[2].name, #keep.workbench.recoverable())
            """, policies: policies)
        #expect(recovered.status == 0, "\(recovered.stderr)")
        let lines = recovered.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines.first == "\(announced.dropFirst("journaled ".count).trimmingCharacters(in: .whitespacesAndNewlines))\tWells Ærø 📈\ttrue")
        #expect(lines.dropFirst().first == "true\ttrue\t1\t2")
        #expect(lines.dropFirst(2).first == "saved\tmerged")
        #expect(lines.dropFirst(3).first == "Wells Ærø 📈\tTheir map\t0")
    }

    /// Acceptance 1 across real processes: the same race for each on_conflict
    /// choice. Content written from tables is canonical JSON, and stays so
    /// through a merge.
    @Test(arguments: ["reject", "overwrite", "fork", "merge"])
    func secondSaveFollowsOnConflict(choice: String) throws {
        let id = try createSession()
        let policies = try policies(onConflict: "'\(choice)'")
        // The first process keeps its copy open (unsaved) and exits; the journal carries it to the third.
        let first = try keep("""
            local w = keep.workbench.open("\(id)")
            w:edit(function(doc) doc.dashboards[1].name = "Mine" end)
            """, policies: policies)
        #expect(first.status == 0)
        let second = try keep("""
            local w = keep.workbench.open("\(id)")
            w:edit(function(doc) doc.dashboards[2].name = "Theirs" end)
            print(w:save())
            """, policies: policies)
        #expect(second.stdout == "saved\tupdated\n", "\(second.stderr)")
        let third = try keep("""
            local w = keep.workbench.recover(keep.workbench.recoverable()[1])
            local ok, result, how = pcall(w.save, w)
            local original = keep.sessions.get("\(id)"):data()
            local mine = w.id and keep.sessions.get(w.id):data()
            local stored = keep.sessions.get("\(id)")
            print(ok and result or result.code, how, w.id == "\(id)", original.dashboards[1].name, original.dashboards[2].name,
                  mine.dashboards[1].name, mine.dashboards[2].name, w.has_changes,
                  stored.content == json.encode(stored:data(), {canonical = true}))
            """, policies: policies)
        #expect(third.status == 0, "\(third.stderr)")
        let expected = [
            "reject": "conflict\tnil\ttrue\tLogs\tTheirs\tLogs\tTheirs\ttrue\ttrue",
            "overwrite": "saved\toverwrote\ttrue\tMine\tMap\tMine\tMap\tfalse\ttrue",
            "fork": "saved\tforked\tfalse\tLogs\tTheirs\tMine\tMap\tfalse\ttrue",
            "merge": "saved\tmerged\ttrue\tMine\tTheirs\tMine\tTheirs\tfalse\ttrue",
        ]
        #expect(third.stdout == expected[choice]! + "\n")
    }

    @Test func oneSaveCanOverrideOnConflict() throws {
        let id = try createSession()
        let result = try keep("""
            local w = keep.workbench.open("\(id)")
            w:edit(function(doc) doc.dashboards[1].name = "Mine" end)
            local stored = keep.sessions.get("\(id)")
            local theirs = stored:data()
            theirs.dashboards[2].name = "Theirs"
            stored:update{content = theirs}
            print(select(2, pcall(w.save, w)).code)
            print(select(2, pcall(w.save, w, {on_conflict = "maybe"})))
            print(select(2, pcall(w.save, w, {fallback = "fork"})))
            print(select(2, pcall(w.save, w, {on_conflict = "merge", fallback = "merge"})))
            print(w:save{on_conflict = "merge", fallback = "fork"})
            local data = keep.sessions.get("\(id)"):data()
            print(data.dashboards[1].name, data.dashboards[2].name, w.has_changes)
            """, policies: try policies(onConflict: "'reject'"))
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines == [
            "conflict",
            "invalid: WorkingCopy:save: on_conflict must be one of \"reject\", \"overwrite\", \"fork\", \"merge\", got \"maybe\"",
            "invalid: WorkingCopy:save: fallback goes with on_conflict = \"merge\"",
            "invalid: WorkingCopy:save: merge's fallback must be \"reject\", \"overwrite\" or \"fork\"",
            "saved\tmerged",
            "Mine\tTheirs\tfalse",
        ])
    }

    @Test func diffShowsWhatASaveWouldChange() throws {
        let id = try createSession()
        let result = try keep("""
            local w = keep.workbench.open("\(id)")
            print(w:diff())
            w:edit(function(doc) doc.dashboards[1].name = "Wells" end)
            w.title = "Field study 2"
            print(w:diff())
            w:save()
            print(w:diff())
            local n = keep.workbench.new{title = "Draft", content = {a = 1}}
            print((n:diff():gsub("copy %S+", "copy ID")))
            """)
        #expect(result.status == 0, "\(result.stderr)")
        let copyLine = try #require(result.stdout.firstMatch(of: #/\+\+\+ working copy (\S+)\n/#)?.1)
        #expect(result.stdout == """
            nil
            --- session \(id) v1 (stored)
            +++ working copy \(copyLine)
            title: "Field study" → "Field study 2"
            -      "name": "Logs"
            +      "name": "Wells"
            nil
            --- (not saved yet)
            +++ working copy ID
            title: nil → "Draft"
            +{
            +  "a": 1
            +}

            """)
    }

    @Test func setReportsTooLargeContentInMiBAndDiscardDropsAJournalEntry() throws {
        let id = try createSession()
        let large = try keep("""
            local w = keep.workbench.open("\(id)")
            local ok, e = pcall(w.set, w, string.rep("x", 17 * 1024 * 1024))
            print(e.code, e.message, w.has_changes)
            """)
        #expect(large.stdout == "too_large\tcontent is 17.00 MiB; the limit is 16.00 MiB (the hard ceiling, whatever the policy)\tfalse\n",
                "\(large.stderr)")
        let first = try keep("""
            local w = keep.workbench.open("\(id)")
            w:set("not wanted")
            """)
        #expect(first.status == 0)
        let other = try KeepBinary.run(["--user", "bob", "run", "-e", """
            print(select(2, pcall(keep.workbench.discard, "AAAAAAAAAAAA")).code)
            """], environment: environment)
        #expect(other.stdout == "not_found\n", "\(other.stderr)")
        let second = try keep("""
            local list = keep.workbench.recoverable()
            print(#list, pcall(keep.workbench.discard, {}))
            keep.workbench.discard(list[1])
            print(#keep.workbench.recoverable(), select(2, pcall(keep.workbench.discard, list[1].copy_id)).code)
            print(keep.sessions.get("\(id)").content == [[\(Self.dashboards)]])
            """)
        #expect(second.status == 0, "\(second.stderr)")
        let lines = second.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "\(second.stdout)")
        #expect(lines[0].hasPrefix("1\tfalse\tinvalid: bad argument #1 to 'discard' (an entry of keep.workbench.recoverable() expected"))
        #expect(lines[1] == "0\tnot_found")
        #expect(lines[2] == "true", "the stored session is untouched")
    }
}
