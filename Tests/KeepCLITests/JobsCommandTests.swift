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
}
