import Foundation
import Testing

/// `keep.sessions` driven through the built binary, as two users sharing one database.
@Suite struct SessionsAPITests {
    func keep(_ user: String, _ code: String, in directory: URL) throws -> KeepBinary.Result {
        try KeepBinary.run(["--db", directory.appendingPathComponent("keep.sqlite").path, "--user", user,
                            "run", "-e", code])
    }

    @Test func twoUsersSeeOnlyTheirOwnSessions() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let created = try keep("ana", """
            local s = keep.sessions.create{title = "Q3 review", description = "numbers", content = {b = 1, a = {}}}
            io.write(s.id)
            """, in: directory)
        #expect(created.status == 0, "\(created.stderr)")
        let id = created.stdout
        let ana = try keep("ana", """
            local s = keep.sessions.get("\(id)")
            print(s.owner, s.title, s.description, s.version, #keep.sessions.list{}.items)
            print(s.content)
            """, in: directory)
        #expect(ana.stdout == "ana\tQ3 review\tnumbers\t1\t1\n{\n  \"a\": {},\n  \"b\": 1\n}\n")
        let bob = try keep("bob", """
            local ok, e = pcall(keep.sessions.get, "\(id)")
            print(ok, e.code, e.message, tostring(e))
            print(#keep.sessions.list{}.items)
            local ok2, e2 = pcall(keep.sessions.delete, "\(id)")
            print(ok2, e2.code)
            """, in: directory)
        #expect(bob.stdout == """
            false\tnot_found\tsession \(id) not found\tnot_found: session \(id) not found
            0
            false\tnot_found

            """)
        let still = try keep("ana", "print(keep.sessions.get('\(id)').title)", in: directory)
        #expect(still.stdout == "Q3 review\n")
    }

    @Test func updatesMethodsAndErrorValues() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let result = try keep("ana", """
            local s = keep.sessions.create{title = "t", description = "d", content = "one"}
            s:update{content = "two"}
            print(s.version, s.content, s.description)
            local cleared = keep.sessions.update(s.id, {description = json.null, expected_version = 2})
            print(cleared.version, cleared.description)
            local ok, e = pcall(s.update, s, {title = "late", expected_version = 2})
            print(e.code, e.details.version, math.type(e.details.version))
            local ok2, e2 = pcall(keep.sessions.create, {title = "", content = ""})
            print(e2.code, e2.message)
            local ok3, e3 = pcall(keep.sessions.create, {title = "x", content = "\\255"})
            print(e3.code)
            local ok4, e4 = pcall(keep.sessions.create, {title = "x", content = string.rep("x", 1572865)})
            print(e4.code, e4.message)
            local ok5, e5 = pcall(keep.sessions.create, {title = "x", content = string.rep("x", 16 * 1024 * 1024 + 1)})
            print(e5.code, math.type(e5.details.bytes), e5.details.limit)
            s:delete()
            print(pcall(keep.sessions.get, s.id))
            """, in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "2\ttwo\td")
        #expect(lines[1] == "3\tnil")
        #expect(lines[2] == "conflict\t3\tinteger")
        #expect(lines[3] == "invalid\ttitle is empty; a title is required")
        #expect(lines[4] == "invalid")
        #expect(lines[5] == "too_large\tcontent is 1572865 bytes; the limit is 1572864 bytes (1.50 MiB)")
        #expect(lines[6] == "too_large\tinteger\t16777216")
        #expect(lines[7].hasPrefix("false\tnot_found: session "))
    }

    @Test func contentIsRequiredToCreateAndNothingIsStoredWithout() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let result = try keep("ana", """
            for _, create in ipairs{keep.sessions.create, keep.snapshots.create, keep.workbench.new} do
              local ok, e = pcall(create, {title = "x"})
              print(ok, e.code, e.message, e.details.field)
            end
            print(#keep.sessions.list{}.items, #keep.snapshots.list{}.items)
            local empty = keep.sessions.create{title = "empty", content = {}}
            print(empty.content, next(empty:data()))
            """, in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        let allowed = "content is required: give a string (stored as it is, normally JSON) or a table (stored as JSON), "
            + "e.g. content = {} for an empty document\tcontent"
        #expect(result.stdout == """
            false\tinvalid\tkeep.sessions.create: \(allowed)
            false\tinvalid\tkeep.snapshots.create: \(allowed)
            false\tinvalid\tkeep.workbench.new: \(allowed)
            0\t0
            {}\tnil

            """)
    }

    @Test func aSessionObjectReadBeforeAnUpdateIsNotSnapshotted() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let result = try keep("ana", """
            local s = keep.sessions.create{title = "first", content = {n = 1}}
            local old = keep.sessions.get(s.id)
            s:update{title = "second", content = {n = 2}}
            local ok, e = pcall(old.snapshot, old, {})
            print(ok, e.code, e.details.version, e.details.object_version)
            print(e.message)
            print(#keep.snapshots.list{}.items)
            local snap = s:snapshot{}
            print(snap.title, snap:data().n, snap.hash == s.hash)
            local again = keep.sessions.get(s.id):snapshot{title = "again"}
            print(again.title, again:data().n)
            """, in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines[0] == "false\tconflict\t2\t1")
        #expect(lines[1].hasSuffix(" is at version 2, this object holds version 1; read it again (keep.sessions.get) and snapshot that"))
        #expect(lines[2] == "0")
        #expect(lines[3] == "second\t2\ttrue")
        #expect(lines[4] == "again\t2")
    }

    @Test func uncaughtDomainErrorExitsOneWithCodeAndLine() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let result = try keep("ana", "\nkeep.sessions.get('AAAAAAAAAAAA')", in: directory)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("keep: (command line):2: not_found: session AAAAAAAAAAAA not found"))
    }

    @Test func eachWalksEveryPage() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let result = try keep("ana", """
            for i = 1, 130 do keep.sessions.create{title = "s" .. i, content = ""} end
            local n = 0
            for s in keep.sessions.each{sort_by = "title"} do n = n + 1 end
            local page = keep.sessions.list{page_size = 1000}
            print(n, #page.items, page.next_token ~= nil)
            """, in: directory)
        #expect(result.stdout == "130\t100\ttrue\n", "\(result.stderr)")
    }

    @Test func aScriptThatNeverTouchesTheStoreCreatesNoDatabase() throws {
        let directory = try KeepBinary.temporaryDirectory()
        _ = try keep("ana", "print(1)", in: directory)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("keep.sqlite").path))
    }
}

/// `keep.snapshots` and `keep.visits` through the binary, as two users.
@Suite struct SnapshotsAPITests {
    @Test func shareVisitDeleteAsTwoUsers() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let db = directory.appendingPathComponent("keep.sqlite").path
        func keep(_ user: String, _ code: String) throws -> KeepBinary.Result {
            try KeepBinary.run(["--db", db, "--user", user, "run", "-e", code])
        }
        let shared = try keep("ana", """
            local s = keep.sessions.create{title = "Q3", description = "d", content = {dashboards = {}}}
            local snap = s:snapshot{title = "Q3 shared"}
            io.write(snap.id)
            """)
        let id = shared.stdout
        #expect(shared.status == 0, "\(shared.stderr)")
        let bob = try keep("bob", """
            local snap = keep.snapshots.get("\(id)")
            print(snap.owner, snap.title, snap.description, #keep.snapshots.list{}.items)
            local copy = snap:to_session{title = "my copy"}
            print(copy.owner, copy.title, copy.content == snap.content)
            local v = keep.visits.list{}.items[1]
            print(v.snapshot_id == "\(id)", v.snapshot_owner, v.visits, v.snapshot.title, v.snapshot_deleted)
            local ok, e = pcall(keep.snapshots.delete, "\(id)")
            print(e.code)
            """)
        #expect(bob.stdout == """
            ana\tQ3 shared\td\t0
            bob\tmy copy\ttrue
            true\tana\t1\tQ3 shared\tfalse
            forbidden

            """, "\(bob.stderr)")
        let ana = try keep("ana", """
            keep.snapshots.delete("\(id)")
            print(#keep.snapshots.list{}.items, #keep.visits.list{}.items)
            """)
        #expect(ana.stdout == "0\t0\n", "\(ana.stderr)")
        let after = try keep("bob", """
            local v = keep.visits.list{deleted = true}.items[1]
            print(v.snapshot_deleted, v.snapshot_deleted_at ~= nil)
            keep.visits.remove("\(id)")
            print(#keep.visits.list{}.items)
            """)
        #expect(after.stdout == "true\ttrue\n0\n", "\(after.stderr)")
    }
}
