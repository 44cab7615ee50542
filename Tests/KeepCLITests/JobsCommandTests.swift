import Foundation
import Testing

@Suite struct JobsCommandTests {
    @Test func listRunAndRetryThroughTheBinary() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let db = directory.appendingPathComponent("keep.sqlite").path
        let setup = try KeepBinary.run(["--db", db, "--user", "ana", "run", "-e", """
            local s = keep.snapshots.create{title = "x", content = "{}"}
            keep.as("bob", function() keep.snapshots.get(s.id) end)
            s:delete()
            keep.as("bob", function() print(keep.visits.list{}.items[1].snapshot_deleted) end)
            """])
        #expect(setup.stdout == "true\n", "\(setup.stderr)")
        let list = try KeepBinary.run(["--db", db, "jobs", "list", "--json"])
        let jobs = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        #expect(jobs?.count == 1)
        #expect(jobs?.first?["state"] as? String == "done")
        #expect(jobs?.first?["kind"] as? String == "mark_logs_deleted")
        let pending = try KeepBinary.run(["jobs", "list", "--db", db, "--state", "pending"])
        #expect(pending.stdout == "no jobs\n")
        let run = try KeepBinary.run(["jobs", "run", "--db", db])
        #expect(run.stdout == "no due jobs\n" && run.status == 0)
        let done = try KeepBinary.run(["jobs", "retry", "1", "--db", db])
        #expect(done.status == 1 && done.stderr == "keep: conflict: job 1 is already done\n")
        let missing = try KeepBinary.run(["jobs", "retry", "99", "--db", db])
        #expect(missing.status == 1 && missing.stderr == "keep: not_found: job 99 not found\n")
        let bad = try KeepBinary.run(["jobs", "list", "--db", db, "--state", "bogus"])
        #expect(bad.status == 2)
    }

    /// Queues jobs the way a buggy or newer host could have: straight into the table.
    static func insertJobs(_ db: String, _ rows: [(kind: String, payload: String)]) throws {
        let values = rows.map { "('\($0.kind)', '\($0.payload)', 'pending', 0, 0, NULL, NULL, NULL, 0, 0)" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("INSERT INTO jobs (kind, payload, state, attempts, next_run_at, last_error, lease_holder, lease_expires_at, created_at, updated_at) VALUES " + sys.argv[2])
            db.commit()
            """, db, values.joined(separator: ", ")]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test func jobsThatCanNeverRunGoDeadAtOnceAndRunSaysWhichFailed() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let db = directory.appendingPathComponent("keep.sqlite").path
        let setup = try KeepBinary.run(["--db", db, "--user", "ana", "run", "-e", """
            local s = keep.snapshots.create{title = "x", content = "{}"}
            s:delete()
            """])
        #expect(setup.status == 0, "\(setup.stderr)")
        try Self.insertJobs(db, [("send_newsletter", "{}"), ("mark_logs_deleted", "not json"),
                                 ("record_visit", #"{"snapshot_id": "Ab3_x9Kq2LmZ", "visitor": " ana", "at": 1}"#)])
        let run = try KeepBinary.run(["jobs", "run", "--db", db])
        #expect(run.status == 1)
        #expect(run.stderr == "keep: 3 of 3 jobs failed: 2 (dead), 3 (dead), 4 (dead)\n")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "id\tkind\tstate\tattempts\tnext_run_at\tlast_error")
        try #require(lines.count == 4, "\(run.stdout)")
        #expect(lines[1] == "2\tsend_newsletter\tdead\t1\t-\tinvalid: job 2: unknown kind 'send_newsletter'; "
            + "the kinds are mark_logs_deleted, record_visit; it can never succeed, so it is dead")
        #expect(lines[2] == "3\tmark_logs_deleted\tdead\t1\t-\tinvalid: job 3: the payload is not JSON; a mark_logs_deleted "
            + "payload holds snapshot_id (an id) and deleted_at (ms since the epoch); it can never succeed, so it is dead")
        #expect(lines[3].hasPrefix("4\trecord_visit\tdead\t1\t-\tinvalid: job 4: the payload has a bad visitor: the user id ' ana' "
            + "starts or ends with white space;"))
        let list = try KeepBinary.run(["jobs", "list", "--db", db])
        #expect(list.status == 0)
        let listed = list.stdout.split(separator: "\n").map(String.init)
        #expect(listed.first == "id\tkind\tstate\tattempts\tnext_run_at\tlast_error")
        #expect(listed.dropFirst().allSatisfy { $0.split(separator: "\t").dropFirst(4).first == "-" },
                "done and dead jobs have no next run")
        #expect(listed.count == 5)
        #expect(try KeepBinary.run(["jobs", "run", "--db", db]).stdout == "no due jobs\n")
    }
}
