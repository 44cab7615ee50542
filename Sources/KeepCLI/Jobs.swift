import ArgumentParser
import Foundation
import KeepCore
import KeepRuntime
import KeepStore

extension Keep {
    /// `keep jobs list|run|retry ID` (SPEC §1 "Background jobs").
    struct Jobs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, run and retry the durable background jobs.",
            subcommands: [List.self, RunDue.self, Retry.self]
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
        return fields
    }

    static func json(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
