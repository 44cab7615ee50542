import Foundation
import GRDB
import KeepTestSupport
import Testing

/// `keep db copy` through the built binary: a whole database, killed midway
/// and resumed, ends identical to its source.
@Suite(.serialized) struct DatabaseCopyCommandTests {
    /// Every row of the tables a copy carries, as text, in key order.
    static func rows(_ path: String) throws -> [String: [String]] {
        let queue = try DatabaseQueue(path: path, configuration: { var c = Configuration(); c.readonly = true; return c }())
        defer { try? queue.close() }
        let tables = ["keep_meta": "key", "sessions": "id", "snapshots": "id", "access_logs": "visitor, snapshot_id",
                      "jobs": "id", "migrations": "id", "migration_backups": "migration, kind, id",
                      "migration_failures": "migration, kind, id"]
        return try queue.read { db in
            try tables.mapValues { key in
                try Row.fetchAll(db, sql: "SELECT * FROM \(tables.first { $0.value == key }!.key) ORDER BY \(key)")
                    .map(\.description)
            }
        }
    }

    @Test func aCopyKilledMidwayResumesAndEndsIdenticalToItsSource() throws {
        let work = try TemporaryDirectory.make("keep-copy")
        let source = work.appendingPathComponent("source.sqlite").path
        let target = work.appendingPathComponent("target.sqlite").path
        let seed = try KeepBinary.run(["--db", source, "--user", "ana", "run",
                                       Checkout.scripts.appendingPathComponent("bench/small_sessions.lua").path, "6000"])
        #expect(seed.status == 0, "\(seed.stderr)")
        let visits = try KeepBinary.run(["--db", source, "--user", "ana", "run", "-e", """
            local snap = keep.sessions.list{}.items[1]:snapshot{title = "shared"}
            keep.as("bob", function() keep.snapshots.get(snap.id) end)
            local gone = keep.sessions.list{}.items[2]:snapshot{title = "gone"}
            keep.as("bob", function() keep.snapshots.get(gone.id) end)
            keep.snapshots.delete(gone.id)
            """])
        #expect(visits.status == 0, "\(visits.stderr)")

        // Kill once the target has taken some sessions (observed, not timed).
        let copy = try KeepBinary.start(["db", "copy", source, target, "--batch-size", "50"], directory: work)
        var copied = 0
        while copy.isRunning, copied < 1_000 {
            copied = (try? DatabaseQueue(path: target).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sessions") ?? 0 }) ?? 0
        }
        #expect(copy.isRunning, "the copy was still running at the kill point")
        kill(copy.processIdentifier, SIGKILL)
        copy.waitUntilExit()

        // A copy of the source is the same database (its identity is copied
        // with it); a database of its own is another one.
        let again = try KeepBinary.run(["db", "copy", source, "same-again.sqlite"], directory: work)
        #expect(again.status == 0, "an unrelated copy still works: \(again.stderr)")
        let unrelated = work.appendingPathComponent("unrelated.sqlite").path
        let made = try KeepBinary.run(["--db", unrelated, "--user", "ana", "run", "-e", "keep.sessions.create{title = 'x', content = '{}'}"])
        #expect(made.status == 0, "\(made.stderr)")
        let other = try KeepBinary.run(["db", "copy", unrelated, target])
        #expect(other.status == 1 && other.stderr.contains("unfinished copy from another database"), "\(other.stderr)")

        let resumed = try KeepBinary.run(["db", "copy", source, target, "--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any]
        #expect(report?["resumed"] as? Bool == true)
        #expect((report?["copied"] as? Int ?? 0) < 6_000 + 10, "the batches before the kill were not copied again")
        #expect(try Self.rows(target) == (try Self.rows(source)), "every table is identical")

        let full = try KeepBinary.run(["db", "copy", source, target])
        #expect(full.status == 1 && full.stderr.contains("the target is not empty"), "\(full.stderr)")
    }

    @Test(.enabled(if: BackendKind.postgresURL != nil, "KEEP_TEST_POSTGRES_URL is not set"))
    func aDatabaseGoesToPostgreSQLAndBackUnchanged() throws {
        let work = try TemporaryDirectory.make("keep-copy-pg")
        let source = work.appendingPathComponent("source.sqlite").path
        let back = work.appendingPathComponent("back.sqlite").path
        let seed = try KeepBinary.run(["--db", source, "--user", "ana", "run", "-e", """
            for i = 1, 120 do keep.sessions.create{title = "Brønn " .. i, content = '{"n":' .. i .. '}'} end
            local snap = keep.snapshots.create{title = "shared", content = "{}"}
            keep.as("bob", function() keep.snapshots.get(snap.id) end)
            """])
        #expect(seed.status == 0, "\(seed.stderr)")
        let server = try BackendKind.freshPostgresURL()
        let there = try KeepBinary.run(["db", "copy", source, server, "--batch-size", "7"])
        #expect(there.status == 0, "\(there.stderr)")
        #expect(!there.stdout.contains("password="), "the URL is shown without secrets: \(there.stdout)")
        // Page tokens signed before the copy's secret arrived would fail here.
        let listed = try KeepBinary.run(["--db", server, "--user", "ana", "run", "-e", """
            local n, page = 0, keep.sessions.list{page_size = 100}
            while true do
              n = n + #page.items
              if not page.next_token then break end
              page = keep.sessions.list{page_size = 100, page_token = page.next_token}
            end
            print(n)
            """])
        #expect(listed.stdout == "120\n", "\(listed.stderr)")
        let home = try KeepBinary.run(["db", "copy", server, back, "--json"])
        #expect(home.status == 0, "\(home.stderr)")
        #expect(try Self.rows(back) == (try Self.rows(source)), "SQLite → PostgreSQL → SQLite changes nothing")
    }

    @Test func badArgumentsAreUsageErrors() throws {
        let same = try KeepBinary.run(["db", "copy", "a.sqlite", "a.sqlite"])
        #expect(same.status == 2 && same.stderr.contains("FROM and TO are the same database"), "\(same.stderr)")
        let batch = try KeepBinary.run(["db", "copy", "a.sqlite", "b.sqlite", "--batch-size", "0"])
        #expect(batch.status == 2 && batch.stderr.contains("--batch-size must be between 1 and 10000"), "\(batch.stderr)")
        let missing = try KeepBinary.run(["db", "copy", "/nonexistent/a.sqlite", "b.sqlite"])
        #expect(missing.status == 2 && missing.stderr.contains("FROM /nonexistent/a.sqlite: the folder /nonexistent does not exist"),
                "\(missing.stderr)")
        let url = try KeepBinary.run(["db", "copy", "a.sqlite", "postgres://ana:secret@/keep?sslmode=sometimes"])
        #expect(url.status == 2 && url.stderr.contains("TO ") && !url.stderr.contains("secret"), "\(url.stderr)")
    }
}
