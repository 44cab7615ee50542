import ArgumentParser
import Foundation
import KeepCore
import KeepRuntime
import KeepStore
import Synchronization

extension Keep {
    /// `keep jobs list|run|retry ID` (SPEC §1 "Background jobs").
    struct Jobs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, run and retry the durable background jobs, or work on them until stopped.",
            subcommands: [List.self, RunDue.self, Retry.self, Work.self]
        )

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "list", abstract: "List jobs.")
            @OptionGroup var global: GlobalOptions
            @Option(help: "Only jobs in this state (pending, running, done, dead).")
            var state: String?
            @Flag(help: "Print JSON.")
            var json = false

            func validate() throws {
                if let state, Job.State(rawValue: state) == nil {
                    throw ValidationError("--state must be one of pending, running, done, dead")
                }
            }

            func run() throws {
                // Listing runs no policy: a broken policy folder does not hide the jobs.
                let storage = try JobCommand.services(global, policies: false).storage
                let state = self.state.flatMap(Job.State.init(rawValue:))
                let jobs = try JobCommand.wait { try await storage.jobs(state: state) }
                if json {
                    print(JobCommand.json(jobs.map { JobCommand.fields($0, error: $0.lastError) }))
                } else if jobs.isEmpty {
                    print("no jobs")
                } else {
                    print(JobCommand.table(jobs.map { ($0, $0.lastError) }))
                }
            }
        }

        struct RunDue: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "run", abstract: "Run every due job once.")
            @OptionGroup var global: GlobalOptions

            func run() throws {
                let runner = try JobCommand.services(global).jobs
                let outcomes = try JobCommand.wait { try await runner.runDue() }
                if outcomes.isEmpty {
                    print("no due jobs")
                    return
                }
                print(JobCommand.table(outcomes.map { ($0.job, $0.error) }))
                let failed = outcomes.filter { $0.error != nil }
                guard failed.isEmpty else {
                    let ids = failed.map { "\($0.job.id) (\($0.job.state == .dead ? "dead" : "will retry"))" }
                    fail("keep: \(failed.count) of \(outcomes.count) jobs failed: "
                        + ids.joined(separator: ", "), status: ExitStatus.failure)
                }
            }
        }

        struct Retry: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Run one job now, whatever its schedule or state (but done).")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "The job's id.")
            var id: Int64

            func run() throws {
                let runner = try JobCommand.services(global).jobs
                let id = self.id
                let outcome = try JobCommand.wait { try await runner.run(id: id) }
                print(JobCommand.table([(outcome.job, outcome.error)]))
                if outcome.error != nil { throw ExitCode(ExitStatus.failure) }
            }
        }
    }
}

extension Keep.Jobs {
    /// `keep jobs work`: a worker until SIGTERM or Ctrl-C (SPEC §10).
    struct Work: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run jobs as they come due, until SIGTERM or Ctrl-C.",
            discussion: """
                Claims due jobs in batches and runs up to --concurrency at once, renewing each job's lease \
                while it runs. Any number of workers, on any number of hosts, may share one database: a job \
                is run by one of them, and the jobs of a worker that died are taken again once their lease \
                expires. Idle, it waits for a queued job (PostgreSQL notifies workers) or polls. SIGTERM or \
                Ctrl-C stops it claiming; it finishes the jobs it holds, then exits 0.
                """)
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print one JSON object a line for each attempt: id, kind, state, attempts, worker.")
        var json = false
        @Option(help: ArgumentHelp("Jobs run at once (1 to 64).", valueName: "N"))
        var concurrency = 1
        @Option(help: ArgumentHelp("How long a claimed job is this worker's: renewed while it runs; a dead worker's jobs are taken again after it.", valueName: "TIME"))
        var lease = "60s"
        @Option(help: ArgumentHelp("How often an idle worker looks for due jobs, when no notification wakes it.", valueName: "TIME"))
        var poll = "1s"

        func validate() throws {
            guard (1 ... 64).contains(concurrency) else {
                throw ValidationError("--concurrency must be between 1 and 64 jobs")
            }
            guard let lease = Quantity.duration(lease), lease >= .milliseconds(100) else {
                throw ValidationError("--lease must be a time of at least 100ms (500ms, 30s, 2m)")
            }
            guard let poll = Quantity.duration(poll), poll >= .milliseconds(10) else {
                throw ValidationError("--poll must be a time of at least 10ms (500ms, 1s)")
            }
        }

        func run() throws {
            let lease = Quantity.duration(lease)!, poll = Quantity.duration(poll)!
            let holder = "keep-work:\(ProcessInfo.processInfo.hostName):\(getpid())"
            let services: KeepServices
            do {
                services = try CommandServices.open(global.runtime(holder: holder, longRunning: true))
            } catch {
                fail("keep: \(error)", status: ExitStatus.failure)
            }
            let base = services.jobs
            let runner = JobRunner(storage: base.storage, schedule: base.schedule, visits: base.visits, clock: base.clock,
                                   holder: holder, leaseMilliseconds: lease.components.seconds * 1000
                                       + lease.components.attoseconds / 1_000_000_000_000_000)
            let worker = JobWorker(runner: runner, concurrency: concurrency, pollInterval: poll,
                                   warn: { Console.error("keep: warning: " + $0) })
            let stops = [SIGTERM, SIGINT].map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { worker.stop() }
                source.resume()
                return source
            }
            let json = self.json
            let started = "keep: worker \(holder) on \((try? global.database.label) ?? global.databasePath), "
                + "\(concurrency) at once; stop it with Ctrl-C or SIGTERM"
            try blockingInPool {
                await worker.run(ready: { Console.error(started) }) { outcome in
                    JobCommand.printLine(json ? JobCommand.attemptJSON(outcome, worker: holder)
                                              : JobCommand.table([(outcome.job, outcome.error)]).split(separator: "\n")[1].description)
                }
            }
            stops.forEach { $0.cancel() }
            CommandServices.closeAll()
        }
    }
}

/// What the jobs commands share.
enum JobCommand {
    /// The services, with the policy folder's retry schedule and visit rule
    /// unless `policies` is false.
    static func services(_ global: GlobalOptions, policies: Bool = true) throws -> KeepServices {
        do {
            return try CommandServices.open(global.runtime(holder: "keep-jobs:\(getpid())", policies: policies))
        } catch {
            fail("keep: \(error)", status: ExitStatus.failure)
        }
    }

    /// Runs the command's async store work, then closes the database; a Keep error ends the command.
    static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        do {
            let result = try blocking(body)
            CommandServices.closeAll()
            return result
        } catch let error as KeepError {
            fail("keep: \(error)", status: ExitStatus.failure)
        }
    }

    /// Jobs under a header, one a line, columns split by tabs. Done and dead
    /// jobs have no next run ("-"); `error` is the attempt's or the last one.
    static func table(_ rows: [(job: Job, error: String?)]) -> String {
        var lines = ["id\tkind\tstate\tattempts\tnext_run_at\tlast_error"]
        for (job, error) in rows {
            let next = job.state == .done || job.state == .dead ? "-" : job.nextRunAt.iso8601
            lines.append("\(job.id)\t\(job.kind)\t\(job.state.rawValue)\t\(job.attempts)\t\(next)\t\(error ?? "-")")
        }
        return lines.joined(separator: "\n")
    }

    static func fields(_ job: Job, error: String?) -> [String: Any] {
        var fields: [String: Any] = [
            "id": job.id, "kind": job.kind.rawValue, "state": job.state.rawValue, "attempts": job.attempts,
            "next_run_at": job.nextRunAt.iso8601, "payload": job.payload, "created_at": job.createdAt.iso8601,
        ]
        if let error { fields["last_error"] = error }
        if let holder = job.leaseHolder { fields["lease_holder"] = holder }
        if let expiry = job.leaseExpiresAt { fields["lease_expires_at"] = expiry.iso8601 }
        fields["updated_at"] = job.updatedAt.iso8601
        return fields
    }

    /// One attempt of `jobs work --json`, on one line.
    static func attemptJSON(_ outcome: JobRunner.Outcome, worker: String) -> String {
        var fields: [String: Any] = ["id": outcome.job.id, "kind": outcome.job.kind.rawValue,
                                     "state": outcome.job.state.rawValue, "attempts": outcome.job.attempts, "worker": worker]
        if let error = outcome.error { fields["error"] = error }
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// A line on standard output at once, whole (several jobs report from several threads).
    static func printLine(_ line: String) {
        printing.withLock { _ in
            print(line)
            Console.flush()
        }
    }
    private static let printing = Mutex(())

    static func json(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
