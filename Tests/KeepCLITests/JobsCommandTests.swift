import Foundation
import KeepTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

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

    // MARK: keep jobs work

    /// A fresh database of `kind`: a new file, or a new PostgreSQL schema.
    static func database(_ kind: BackendKind) throws -> String {
        switch kind {
        case .sqlite: try KeepBinary.temporaryDirectory().appendingPathComponent("keep.sqlite").path
        case .postgres: try BackendKind.freshPostgresURL()
        }
    }

    /// `keep jobs list --json`, every job or those in `state`.
    static func listed(_ db: String, state: String? = nil) throws -> [[String: Any]] {
        let list = try KeepBinary.run(["jobs", "list", "--db", db, "--json"] + (state.map { ["--state", $0] } ?? []))
        try #require(list.status == 0, "\(list.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
    }

    /// The attempts `jobs work --json` reported, one object a line.
    static func attempts(_ lines: [String]) -> [[String: Any]] {
        lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Deletes `count` snapshots with `--jobs queue`: their mark_logs_deleted jobs wait for workers.
    static func queueJobs(_ db: String, count: Int) throws {
        let queue = try KeepBinary.run(["--db", db, "--jobs", "queue", "--user", "ana", "run", "-e", """
            for i = 1, \(count) do keep.snapshots.create{title = "s" .. i, content = "{}"}:delete() end
            """])
        try #require(queue.status == 0, "\(queue.stderr)")
    }

    @Test(arguments: BackendKind.allCases)
    func threeWorkersDrainAQueueAndADeadWorkersJobsFinishAfterItsLease(_ kind: BackendKind) throws {
        let db = try Self.database(kind)
        let count = 300
        try Self.queueJobs(db, count: count)
        #expect(try Self.listed(db, state: "pending").count == count, "--jobs queue runs nothing at once")

        let output = ProcessOutput()
        func startWorker() throws -> Process {
            let worker = try KeepBinary.start(["jobs", "work", "--db", db, "--json", "--concurrency", "4",
                                               "--lease", "2s", "--poll", "100ms"])
            output.read((worker.standardOutput as! Pipe).fileHandleForReading)
            return worker
        }
        // Worker 0 starts alone (these jobs take about a millisecond each:
        // three workers drain 300 in well under a second) and is killed while
        // it holds jobs: frozen after each job it reports until what it holds
        // is seen, then killed. Workers 1 and 2 then drain the queue together.
        var workers = [try startWorker()]
        defer { for worker in workers where worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
        let dead = ":\(workers[0].processIdentifier)"
        var atKill: [[String: Any]] = []
        var held: [[String: Any]] = []
        var seen = 0
        while held.isEmpty, seen < count {
            try #require(output.wait { $0[0].count > seen }, "worker 0 reports jobs")
            kill(workers[0].processIdentifier, SIGSTOP)
            seen = output.all[0].count
            atKill = try Self.listed(db)
            held = atKill.filter {
                $0["state"] as? String == "running" && ($0["lease_holder"] as? String)?.hasSuffix(dead) == true
            }
            kill(workers[0].processIdentifier, held.isEmpty ? SIGCONT : SIGKILL)
        }
        try #require(!held.isEmpty, "worker 0 held jobs when it was killed")
        workers += [try startWorker(), try startWorker()]
        workers[0].waitUntilExit()
        #expect(workers[0].terminationReason == .uncaughtSignal)

        // What worker 0 left: jobs it held (running under its lease), and jobs
        // it finished (some perhaps without reporting them before it died).
        let doneAtKill = Set(atKill.filter { $0["state"] as? String == "done" }.compactMap { $0["id"] as? Int })

        let drained = output.wait { lines in
            Set(lines.flatMap { Self.attempts($0) }.compactMap { $0["id"] as? Int }).union(doneAtKill).count == count
        }
        #expect(drained, "every job is done")
        for worker in workers.dropFirst() {
            worker.terminate()  // SIGTERM
            worker.waitUntilExit()
            #expect(worker.terminationReason == .exit && worker.terminationStatus == 0, "SIGTERM stops a worker, exit 0")
        }

        // No job was run twice: each is reported once, and done at its first attempt.
        let reported = output.all.flatMap { Self.attempts($0) }
        let ids = reported.compactMap { $0["id"] as? Int }
        #expect(ids.count == Set(ids).count, "a job reported twice")
        #expect(reported.allSatisfy { $0["state"] as? String == "done" && $0["attempts"] as? Int == 1 })
        let final = try Self.listed(db)
        #expect(final.count == count)
        #expect(final.allSatisfy { $0["state"] as? String == "done" && $0["attempts"] as? Int == 1 },
                "\(final.filter { $0["state"] as? String != "done" || $0["attempts"] as? Int != 1 })")
        // Worker 0's held jobs were finished by the others, after its lease.
        let byID = Dictionary(final.map { ($0["id"] as! Int, $0) }, uniquingKeysWith: { a, _ in a })
        let survivors = Dictionary(output.all.dropFirst().flatMap { Self.attempts($0) }.map { ($0["id"] as! Int, $0) },
                                   uniquingKeysWith: { a, _ in a })
        for job in held {
            let id = job["id"] as! Int
            #expect(survivors[id]?["state"] as? String == "done", "job \(id) of the dead worker was run again")
            let finished = byID[id]?["updated_at"] as? String ?? ""
            #expect(finished >= job["lease_expires_at"] as? String ?? "~", "job \(id) was taken before its lease expired")
        }
    }

    /// An idle worker wakes for a job queued after it started: on PostgreSQL
    /// by NOTIFY (it would not poll for an hour), on SQLite by polling.
    /// Ctrl-C stops it with exit 0.
    @Test(arguments: BackendKind.allCases)
    func anIdleWorkerRunsAJobQueuedLater(_ kind: BackendKind) throws {
        let db = try Self.database(kind)
        _ = try Self.listed(db)  // creates the database
        let worker = try KeepBinary.start(["jobs", "work", "--db", db, "--json",
                                           "--poll", kind == .postgres ? "1h" : "100ms"])
        defer { if worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
        let output = ProcessOutput()
        output.read((worker.standardOutput as! Pipe).fileHandleForReading)
        output.read((worker.standardError as! Pipe).fileHandleForReading)
        try #require(output.wait { $0[1].contains { $0.hasPrefix("keep: worker keep-work:") } }, "\(output.all)")
        try Self.queueJobs(db, count: 1)
        #expect(output.wait { !$0[0].isEmpty }, "the worker ran the job")
        let attempt = try #require(Self.attempts(output.all[0]).first)
        #expect(attempt["id"] as? Int == 1 && attempt["kind"] as? String == "mark_logs_deleted")
        #expect(attempt["state"] as? String == "done" && attempt["attempts"] as? Int == 1)
        #expect((attempt["worker"] as? String)?.hasSuffix(":\(worker.processIdentifier)") == true)
        kill(worker.processIdentifier, SIGINT)
        worker.waitUntilExit()
        #expect(worker.terminationReason == .exit && worker.terminationStatus == 0)
        #expect(output.wait { _ in false } == false)  // both streams ended
        #expect(output.all[1].count == 1, "nothing but the start line on stderr: \(output.all[1])")
    }

    @Test func jobsModeAndWorkOptionsAreChecked() throws {
        let db = try KeepBinary.temporaryDirectory().appendingPathComponent("keep.sqlite").path
        let bad = try KeepBinary.run(["--db", db, "--jobs", "later", "run", "-e", "print(1)"])
        #expect(bad.status == 2 && bad.stderr.contains("--jobs 'later' is not a job mode; use inline or queue"), "\(bad.stderr)")
        var environment = ProcessInfo.processInfo.environment
        environment["KEEP_JOBS"] = "queue"
        environment["KEEP_USER"] = "ana"
        let queued = try KeepBinary.run(["--db", db, "run", "-e", "keep.snapshots.create{title = 'x', content = '{}'}:delete()"],
                                        environment: environment)
        #expect(queued.status == 0, "\(queued.stderr)")
        #expect(try Self.listed(db, state: "pending").count == 1, "$KEEP_JOBS=queue leaves the job queued")
        let inline = try KeepBinary.run(["--db", db, "--jobs", "inline", "run", "-e",
                                         "keep.snapshots.create{title = 'y', content = '{}'}:delete()"], environment: environment)
        #expect(inline.status == 0)
        #expect(try Self.listed(db, state: "done").count == 1, "--jobs inline overrides $KEEP_JOBS")
        let concurrency = try KeepBinary.run(["jobs", "work", "--db", db, "--concurrency", "65"])
        #expect(concurrency.status == 2 && concurrency.stderr.contains("--concurrency must be between 1 and 64"))
    }
}
