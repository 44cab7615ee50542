import ArgumentParser
import Foundation
import KeepCore
import KeepLua
import KeepMigrate
import KeepRuntime
import KeepStore

extension Keep {
    /// `keep migrate status|plan|up|rollback|new|unlock` (SPEC §7, §10).
    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Migrate stored session and snapshot content with Lua scripts.",
            discussion: """
                Migrations are files NNNN_name.lua in a folder (default ./migrations), run in number
                order, each in batches whose writes and checkpoint commit together: a run stopped at
                any moment resumes where it stopped. See docs/migrations.md.
                """,
            subcommands: [Status.self, Plan.self, Up.self, Rollback.self, New.self, Unlock.self]
        )

        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show each migration's state, and the lock.")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var options: MigrateOptions

            func run() throws {
                guard (try? global.database.mayExist) ?? false else {
                    // Nothing ran yet; status reads, so it creates no database.
                    let directory = try MigrateCommand.attempt { try MigrationDirectory(path: options.dir) }
                    let status = MigrationStatus(directory: directory, ledger: [])
                    if options.json {
                        MigrateCommand.printJSON(MigrateCommand.statusFields(status, lock: nil))
                    } else {
                        print(MigrateCommand.describe(status, lock: nil, folder: options.dir))
                        print("(there is no database at \(global.databasePath) yet)")
                    }
                    return
                }
                let runner = try options.runner(global, readOnly: true, validating: false)
                let status = try MigrateCommand.attempt { try runner.status() }
                let lock = try MigrateCommand.attempt { try runner.lock() }
                var failures: [String: [MigrationFailure]] = [:]
                for entry in status.entries where (entry.record?.failed ?? 0) > 0 || entry.state == .rolledBack {
                    failures[entry.id] = try MigrateCommand.attempt { try runner.failures(of: entry.id) }
                }
                CommandServices.closeAll()
                if options.json {
                    MigrateCommand.printJSON(MigrateCommand.statusFields(status, lock: lock, failures: failures))
                } else {
                    print(MigrateCommand.describe(status, lock: lock, failures: failures, folder: options.dir))
                }
            }
        }

        struct Plan: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Run the pending migrations without writing: counts and sample diffs.")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var options: MigrateOptions
            @OptionGroup var stop: MigrateStopOption
            @Option(help: ArgumentHelp("Show up to N changed documents per migration.", valueName: "N"))
            var samples = 3

            func validate() throws { try MigrateCommand.validate(samples: samples) }

            func run() throws {
                try MigrateCommand.up(global, options, to: stop.to, accepting: [], dryRun: true, samples: samples)
            }
        }

        struct Up: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Run the pending migrations.")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var options: MigrateOptions
            @OptionGroup var stop: MigrateStopOption
            @Flag(help: "Run without writing anything: counts and sample diffs (as `plan`).")
            var dryRun = false
            @Option(help: ArgumentHelp("Record the new checksum of a migration whose file changed after it ran (repeatable).",
                                       valueName: "ID"))
            var acceptChanged: [String] = []
            @Flag(help: "Do not keep the previous content of changed documents (no rollback possible).")
            var noBackup = false
            @Option(help: ArgumentHelp("With --dry-run: show up to N changed documents per migration (default 3).",
                                       valueName: "N"))
            var samples: Int?

            func validate() throws {
                if let samples {
                    guard dryRun else {
                        throw ValidationError("--samples shows what a dry run would change: add --dry-run (or use `keep migrate plan`)")
                    }
                    try MigrateCommand.validate(samples: samples)
                }
            }

            func run() throws {
                var options = self.options
                options.keepsBackup = !noBackup
                try MigrateCommand.up(global, options, to: stop.to, accepting: acceptChanged, dryRun: dryRun,
                                      samples: samples ?? 3)
            }
        }

        struct Rollback: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Restore the documents a migration changed, as they were before it.")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var options: MigrateOptions
            @Argument(help: ArgumentHelp("The migration (number or name).", valueName: "ID"))
            var id: String

            func run() throws {
                // Nothing ran where there is no database: say so instead of creating one.
                guard (try? global.database.mayExist) ?? false else {
                    fail("keep: not_found: there is no database at \(global.databasePath), so no migration ran there "
                        + "and there is nothing to roll back (give --db, or $KEEP_DB, for the database it ran on)",
                         status: ExitStatus.failure)
                }
                let runner = try options.runner(global, readOnly: false)
                let report = try MigrateCommand.attempt(interruptible: true) { try runner.rollback(id) }
                MigrateCommand.finish(report, json: options.json)
            }
        }

        struct Unlock: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Release the migration lock by hand, naming its holder.",
                discussion: "For a runner that died on another host while its lease still runs. A runner that is "
                    + "still running finds its lock gone at its next batch and stops without writing.")
            @OptionGroup var global: GlobalOptions
            @Flag(help: "Print what was released as JSON.")
            var json = false

            func run() throws {
                // No database, no lock: say so instead of creating one.
                let lock: MigrationLock?
                if (try? global.database.mayExist) ?? false {
                    let services = try MigrateCommand.attempt {
                        try CommandServices.open(global.runtime(holder: MigrateOptions.holder, policies: false))
                    }
                    let storage = services.storage
                    lock = try MigrateCommand.attempt { try blocking { try await storage.breakMigrationLock() } }
                    CommandServices.closeAll()
                } else {
                    lock = nil
                }
                if json {
                    var fields: [String: Any] = ["released": lock != nil]
                    if let lock {
                        fields["lock"] = ["holder": lock.holder, "acquired_at": lock.acquiredAt.iso8601,
                                          "expires_at": lock.expiresAt.iso8601]
                    }
                    MigrateCommand.printJSON(fields)
                } else if let lock {
                    let now = KeepClock.system.now()
                    print("released the migration lock of \(lock.holder), held since \(lock.acquiredAt) "
                        + (lock.expiresAt > now ? "(its lease ran until \(lock.expiresAt))"
                                                : "(its lease had expired at \(lock.expiresAt))"))
                } else {
                    print("there was no migration lock: nothing to release")
                }
            }
        }

        struct New: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create the next migration file from a template.")
            @OptionGroup var global: GlobalOptions
            @Option(help: ArgumentHelp("The migration folder.", valueName: "DIR"))
            var dir = "migrations"
            @Argument(help: ArgumentHelp("What it does, in a few words (e.g. rename_well_logs).", valueName: "NAME"))
            var name: String

            func run() throws {
                let path = try MigrateCommand.attempt { try MigrationDirectory.scaffold(name: name, in: dir) }
                print("created \(path)")
            }
        }
    }
}

/// Options the migrate commands share.
/// `--to` of `plan` and `up`.
struct MigrateStopOption: ParsableArguments {
    @Option(help: ArgumentHelp("Stop after this migration (number or name).", valueName: "ID"))
    var to: String?
}

struct MigrateOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The migration folder.", valueName: "DIR"))
    var dir = "migrations"
    @Option(help: ArgumentHelp("Documents per batch (each batch commits with its checkpoint).", valueName: "N"))
    var batchSize = 500
    @Option(help: ArgumentHelp("What a failing document does: stop (the default) or skip (record it and go on).",
                               valueName: "MODE"))
    var onError = "stop"
    @Option(help: ArgumentHelp("The lock's lease (e.g. 30s): how long a runner that died on another host blocks others.",
                               valueName: "TIME"))
    var lease = "30s"
    @Flag(help: "Print the report as JSON.")
    var json = false

    var keepsBackup = true

    enum CodingKeys: String, CodingKey { case dir, batchSize, onError, lease, json }

    func validate() throws {
        guard batchSize >= 1, batchSize <= 100_000 else {
            throw ValidationError("--batch-size must be between 1 and 100000 documents")
        }
        guard MigrationRunner.ErrorMode(rawValue: onError) != nil else {
            throw ValidationError("--on-error must be stop or skip")
        }
        guard let duration = Quantity.duration(lease) else {
            throw ValidationError("--lease: '\(lease)' is not a duration; use a number with ms, s, m or h (e.g. 30s)")
        }
        guard duration >= .milliseconds(100), duration <= .seconds(3600) else {
            throw ValidationError("--lease: \(lease) is out of range; a lease is 100ms to 1h (a dead runner blocks others that long)")
        }
    }

    /// `readOnly` (dry runs) opens the database without writing to it, not even a schema upgrade.
    /// `status` runs no script, so it needs no policies (a broken policy folder does not hide it).
    func runner(_ global: GlobalOptions, readOnly: Bool, samples: Int = 3, validating: Bool = true) throws
        -> MigrationRunner {
        let directory = try MigrateCommand.attempt { try MigrationDirectory(path: dir) }
        let services = try MigrateCommand.attempt {
            try CommandServices.open(global.runtime(holder: Self.holder, readOnly: readOnly, policies: validating))
        }
        var options = MigrationRunner.Options()
        options.batchSize = batchSize
        options.onError = MigrationRunner.ErrorMode(rawValue: onError) ?? .stop
        options.keepsBackup = keepsBackup
        options.sampleCount = samples
        let lease = Quantity.duration(lease) ?? .seconds(30)
        options.leaseMilliseconds = lease.components.seconds * 1000 + lease.components.attoseconds / 1_000_000_000_000_000
        let progress = ProgressDisplay(json: json)
        return MigrationRunner(storage: services.storage, directory: directory, validator: services.policies.validator,
                               holder: services.configuration.holder,
                               options: options, progress: progress.show)
    }

    /// `keep-migrate@host:pid#nonce`: who holds the lock, for the runner that finds it taken.
    static var holder: String { MigrationHolder.thisProcess().name }
}

/// What the migrate commands share: error handling, reports, progress.
enum MigrateCommand {
    static func validate(samples: Int) throws {
        guard samples >= 0, samples <= 1000 else {
            throw ValidationError("--samples must be between 0 and 1000 documents")
        }
    }

    static func up(_ global: GlobalOptions, _ options: MigrateOptions, to: String?, accepting: [String], dryRun: Bool,
                   samples: Int) throws {
        let runner = try options.runner(global, readOnly: dryRun, samples: samples)
        let report = try attempt(interruptible: true) {
            try runner.up(through: to, accepting: accepting, dryRun: dryRun)
        }
        if report.migrations.isEmpty, let to, !options.json {
            CommandServices.closeAll()
            print("nothing to migrate through \(to): every migration up to it is applied")
            return
        }
        finish(report, json: options.json)
    }

    /// Runs `body`; a Keep error prints `keep: code: message` and exits 1 (130 when interrupted).
    static func attempt<T>(interruptible: Bool = false, _ body: () throws -> T) throws -> T {
        if interruptible { LuaState.installInterruptHandler() }
        defer { if interruptible { LuaState.restoreInterruptHandler() } }
        do {
            return try body()
        } catch let error as KeepError {
            CommandServices.closeAll()
            ProgressDisplay.clearLine()
            fail("keep: \(error)", status: error.code == .interrupted ? ExitStatus.interrupted : ExitStatus.failure)
        }
    }

    /// Prints the report; exits 1 when a migration failed.
    static func finish(_ report: MigrationReport, json: Bool) {
        CommandServices.closeAll()
        ProgressDisplay.clearLine()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self))
        } else {
            print(describe(report))
        }
        if report.migrations.contains(where: { $0.state == "failed" || ($0.error != nil && report.dryRun) }) {
            Console.flush()
            exit(ExitStatus.failure)
        }
    }

    static func describe(_ report: MigrationReport) -> String {
        guard !report.migrations.isEmpty else {
            return report.dryRun ? "nothing to migrate (no pending migrations)" : "nothing to migrate: every migration is applied"
        }
        var lines: [String] = []
        for entry in report.migrations {
            let seconds = Double(entry.elapsedMilliseconds) / 1000
            let rate = seconds > 0 ? String(format: ", %.0f docs/s", Double(entry.scanned) / seconds) : ""
            if let restored = entry.restored {
                lines.append("\(entry.file): rolled back — restored \(restored), left \(entry.conflicts ?? 0) changed "
                    + "since the migration, \(entry.gone ?? 0) deleted since" + String(format: " (%.2f s)", seconds))
            } else if report.dryRun {
                lines.append("\(entry.file) (dry run\(entry.resumed ? ", from its checkpoint" : "")): would scan \(entry.scanned), "
                    + "change \(entry.changed), fail \(entry.failed)" + String(format: " (%.2f s%@)", seconds, rate))
            } else {
                lines.append("\(entry.file): \(entry.state.replacingOccurrences(of: "_", with: " "))"
                    + "\(entry.resumed ? " (resumed)" : "") — scanned \(entry.scanned), changed \(entry.changed), "
                    + "failed \(entry.failed)" + String(format: " (%.2f s%@)", seconds, rate))
            }
            if let error = entry.error { lines.append("  error: \(error)") }
            // The failure that stopped a migration (or a dry run) is its error, printed above.
            let listed = entry.failures.filter { entry.error?.hasPrefix("\($0.kind) \($0.id):") != true }
            for failure in listed.prefix(20) {
                lines.append("  \(failure.kind) \(failure.id): \(failure.message)")
            }
            if listed.count > 20 { lines.append("  … \(listed.count - 20) more (see --json)") }
            for warning in entry.warnings { lines.append("  warning: \(warning)") }
            for sample in entry.samples {
                lines.append("  \(sample.kind) \(sample.id):")
                if let title = sample.title { lines.append("    title: \(quoted(title.before)) → \(quoted(title.after))") }
                if let description = sample.description {
                    lines.append("    description: \(quoted(description.before)) → \(quoted(description.after))")
                }
                for line in sample.content { lines.append("    " + line) }
            }
        }
        if report.dryRun && report.migrations.count > 1 {
            lines.append("(a dry run writes nothing, so each migration ran against the documents as stored now, "
                + "not as the earlier ones would leave them)")
        }
        return lines.joined(separator: "\n")
    }

    static func quoted(_ text: String?) -> String { text.map { "\"\($0)\"" } ?? "nil" }

    /// The state `status` shows: a migration the ledger says is running
    /// while no live runner holds the lock was interrupted (Ctrl-C, a crash);
    /// the next `up` resumes it from its checkpoint.
    static func shownState(_ entry: MigrationStatus.Entry, lock: MigrationLock?, now: Timestamp) -> String {
        if entry.state == .running, !isLive(lock, now: now) { return "interrupted" }
        return entry.state.rawValue
    }

    /// Whether a runner still holds `lock`: its lease runs, and it is not a
    /// process of this host that is gone (the next run takes that over at once).
    static func isLive(_ lock: MigrationLock?, now: Timestamp) -> Bool {
        guard let lock, lock.expiresAt > now else { return false }
        return MigrationHolder(name: lock.holder)?.isGoneFromThisHost != true
    }

    static func describe(_ status: MigrationStatus, lock: MigrationLock?, failures: [String: [MigrationFailure]] = [:],
                         folder: String) -> String {
        guard !status.entries.isEmpty else { return "no migrations in \(folder) (create one with `keep migrate new NAME`)" }
        let now = KeepClock.system.now()
        let width = status.entries.map(\.fileName.count).max() ?? 0
        var lines: [String] = []
        for entry in status.entries {
            let state = shownState(entry, lock: lock, now: now)
            var line = entry.fileName.padding(toLength: width + 2, withPad: " ", startingAt: 0)
                + state.replacingOccurrences(of: "_", with: " ")
            if let record = entry.record, entry.state != .pending {
                line += "  scanned \(record.scanned), changed \(record.changed), failed \(record.failed)"
                if entry.state == .failed { line += " before it stopped" }
                if let finished = record.finishedAt, entry.state == .applied { line += ", at \(finished)" }
                if let checkpoint = record.checkpoint, [.running, .failed].contains(entry.state) {
                    line += ", checkpoint \(checkpoint.kind.rawValue) \(checkpoint.id)"
                }
                if state == "interrupted" {
                    line += "\n    its runner is gone (no live lock); `keep migrate up` resumes it after the checkpoint"
                }
                if let error = record.lastError, entry.state == .failed { line += "\n    error: \(error)" }
            }
            let documents = failures[entry.id] ?? []
            for failure in documents.prefix(20) {
                line += "\n    \(failure.message.hasPrefix("rollback:") ? "left" : "skipped") "
                    + "\(failure.kind.rawValue) \(failure.id): \(failure.message)"
            }
            if documents.count > 20 { line += "\n    … \(documents.count - 20) more (see --json)" }
            if let other = entry.otherFile {
                line += "\n    ! \(folder) has \(other.fileName) with this number instead: a different migration "
                    + "(up is blocked; see `keep migrate up`)"
            }
            if entry.fileChanged { line += "\n    ! the file changed since it ran (up is blocked until --accept-changed \(entry.id))" }
            if entry.fileMissing { line += "\n    ! the file is gone from \(folder)" }
            lines.append(line)
        }
        if let lock {
            let now = KeepClock.system.now()
            lines.append(isLive(lock, now: now)
                ? "lock: held by \(lock.holder) since \(lock.acquiredAt), lease until \(lock.expiresAt)"
                : lock.expiresAt > now
                ? "lock: free (its holder \(lock.holder) is gone from this host; the next run takes over)"
                : "lock: free (the lease of \(lock.holder) expired at \(lock.expiresAt))")
        } else {
            lines.append("lock: free")
        }
        return lines.joined(separator: "\n")
    }

    static func statusFields(_ status: MigrationStatus, lock: MigrationLock?,
                             failures: [String: [MigrationFailure]] = [:]) -> [String: Any] {
        let now = KeepClock.system.now()
        let migrations: [[String: Any]] = status.entries.map { entry in
            var fields: [String: Any] = ["id": entry.id, "file": entry.fileName,
                                         "state": shownState(entry, lock: lock, now: now),
                                         "file_changed": entry.fileChanged, "file_missing": entry.fileMissing]
            if let other = entry.otherFile { fields["other_file"] = other.fileName }
            if let documents = failures[entry.id] {
                fields["failures"] = documents.map { ["kind": $0.kind.rawValue, "id": $0.id.rawValue, "message": $0.message] }
            }
            if let record = entry.record {
                fields["scanned"] = record.scanned
                fields["changed"] = record.changed
                fields["failed"] = record.failed
                fields["checksum"] = record.checksum
                fields["started_at"] = record.startedAt.iso8601
                fields["elapsed_ms"] = record.elapsedMilliseconds
                if let finished = record.finishedAt { fields["finished_at"] = finished.iso8601 }
                if let checkpoint = record.checkpoint {
                    fields["checkpoint"] = ["kind": checkpoint.kind.rawValue, "id": checkpoint.id.rawValue]
                }
                if let error = record.lastError { fields["error"] = error }
            }
            return fields
        }
        var fields: [String: Any] = ["migrations": migrations]
        if let lock {
            fields["lock"] = ["holder": lock.holder, "acquired_at": lock.acquiredAt.iso8601,
                              "expires_at": lock.expiresAt.iso8601]
        }
        return fields
    }

    static func printJSON(_ value: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .prettyPrinted,
                                                                                 .withoutEscapingSlashes])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }
}

/// A migration's progress on stderr (nothing with --json).
final class ProgressDisplay {
    private let json: Bool
    private let bar = ProgressBar()

    init(json: Bool) { self.json = json }

    func show(_ progress: MigrationProgress) {
        guard !json else { return }
        let rate = progress.elapsedSeconds > 0 ? Double(progress.processedThisRun) / progress.elapsedSeconds : 0
        bar.show(label: progress.file, done: progress.done, total: progress.total, unit: "docs", rate: rate,
                 counts: "changed \(progress.changed)" + (progress.failed > 0 ? "  failed \(progress.failed)" : ""),
                 finished: progress.finished)
    }

    /// Ends a half-drawn bar so what follows starts on a clean line.
    static func clearLine() { ProgressBar.clearLine() }
}
