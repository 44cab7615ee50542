import ArgumentParser
import Foundation
import KeepCore
import KeepRuntime
import KeepStore
import Synchronization

extension Keep {
    /// `keep db copy FROM TO`: whole databases between backends (SPEC §10).
    struct Db: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "db",
            abstract: "Work on whole databases.",
            subcommands: [Copy.self]
        )

        struct Copy: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "copy",
                abstract: "Copy a whole database into an empty one, on any two backends.",
                discussion: """
                    Copies sessions, snapshots, access logs, jobs, the migrations ledger and backups, and the \
                    page-token secret (so that page tokens stay valid), exactly: ids, hashes, versions and times. \
                    Each batch commits with the copy's progress, so a copy that was killed resumes where it \
                    stopped when run again with the same FROM and TO. At the end every table is counted and \
                    digested on both sides. The target must be empty unless it holds this copy's progress; \
                    nothing may write to FROM while it is copied.
                    """
            )

            @Argument(help: ArgumentHelp("The database to copy: a file path or a postgres:// URL.", valueName: "FROM"))
            var from: String
            @Argument(help: ArgumentHelp("The database to copy into (created when it is a new file).", valueName: "TO"))
            var to: String
            @Option(help: "Rows per batch (1 to 10000).")
            var batchSize = 500
            @Flag(help: "Print the result as JSON (and no progress).")
            var json = false

            func validate() throws {
                guard (1 ... 10_000).contains(batchSize) else {
                    throw ValidationError("--batch-size must be between 1 and 10000 rows")
                }
                guard from != to else { throw ValidationError("FROM and TO are the same database; name two") }
                for (name, value) in [("FROM", from), ("TO", to)] {
                    do {
                        _ = try DatabaseLocation(value)
                    } catch {
                        throw ValidationError("\(name) \(DatabaseLocation.isURL(value) ? "" : value + ": ")\(error.message)")
                    }
                }
            }

            func run() throws {
                let (source, target) = try DbCommand.attempt {
                    (try CommandServices.open(try DatabaseLocation(from), readOnly: true),
                     try CommandServices.open(try DatabaseLocation(to)))
                }
                let copier = DatabaseCopier(source: source.storage, target: target.storage, batchSize: batchSize)
                let display = CopyProgress(quiet: json)
                let report = try DbCommand.attempt {
                    try blockingInPool { try await copier.copy(progress: { display.show($0) }) }
                }
                CommandServices.closeAll()
                ProgressBar.clearLine()
                if json {
                    let tables = report.tables.map { ["table": $0.table, "rows": $0.rows, "sha256": $0.digest] as [String: Any] }
                    MigrateCommand.printJSON(["resumed": report.resumed, "copied": report.copied, "tables": tables])
                    return
                }
                let rows = report.tables.reduce(0) { $0 + $1.rows }
                print("copied \(report.copied) rows\(report.resumed ? " (resumed)" : ""); \(target.location.label) now holds the \(rows) rows of \(source.location.label):")
                for table in report.tables {
                    print("  \(table.table.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(table.rows).leftPadded(9))  sha256 \(table.digest.prefix(16))… (same on both sides)")
                }
            }
        }
    }
}

/// What the db commands share.
enum DbCommand {
    /// Runs `body`; a Keep error prints `keep: code: message` and exits 1. (Ctrl-C
    /// ends a copy at once, as the system does: the next run resumes it.)
    static func attempt<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as KeepError {
            ProgressBar.clearLine()
            fail("keep: \(error)", status: ExitStatus.failure)
        }
    }
}

/// The copy's progress bar: rows of all tables. The copier reports from
/// whichever thread runs it, so the bar is behind a lock.
final class CopyProgress: Sendable {
    private struct State {
        let bar = ProgressBar()
        let started = ContinuousClock.now
        var first: Int64?
    }
    private let quiet: Bool
    private let state = Mutex(State())

    init(quiet: Bool) { self.quiet = quiet }

    func show(_ progress: DatabaseCopier.Progress) {
        guard !quiet else { return }
        state.withLock { state in
            let base = state.first ?? progress.copied
            state.first = base
            let elapsed = (ContinuousClock.now - state.started) / .seconds(1)
            let rate = elapsed > 0 ? Double(progress.copied - base) / elapsed : 0
            state.bar.show(label: "copy \(progress.table)", done: progress.copied, total: progress.total, unit: "rows",
                           rate: rate, finished: progress.finished)
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
