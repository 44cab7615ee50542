import Dispatch
import KeepCore
import KeepLua
import KeepStore

/// Runs the migrations of a folder against a store (SPEC §7): `up` (or a dry
/// run of it), `rollback`, and the status both start from.
///
/// Synchronous: Lua runs on the caller's thread, and store calls wait with
/// `blocking`. Writes happen only under the migration lock, batch by batch,
/// each batch with its checkpoint in one transaction.
public final class MigrationRunner {
    public enum ErrorMode: String, Sendable, CaseIterable {
        /// The first failing document stops the migration; its batch is not written.
        case stop
        /// Failing documents are recorded (id and message) and left as they are.
        case skip
    }

    public struct Options: Sendable {
        public var batchSize = 500
        /// A batch also ends once its documents' content adds up to this many
        /// bytes: 500 documents of 1.5 MiB, before and after, would be GBs.
        public var batchBytes = 32 << 20
        public var onError = ErrorMode.stop
        /// Keep previous content for `rollback` (`--no-backup` turns it off).
        public var keepsBackup = true
        public var leaseMilliseconds: Int64 = 30_000
        /// Changed documents shown by dry runs.
        public var sampleCount = 3
        public var budget = MigrationScript.defaultBudget

        public init() {}
    }

    let storage: any MigrationStorage
    let directory: MigrationDirectory
    let validator: any DocumentValidator
    let clock: KeepClock
    /// Names this runner in the lock ("keep-migrate@host:pid").
    let holder: String
    let options: Options
    let progress: (MigrationProgress) -> Void

    public init(storage: any MigrationStorage, directory: MigrationDirectory,
                validator: any DocumentValidator = DefaultValidation(), clock: KeepClock = .system, holder: String,
                options: Options = Options(), progress: @escaping (MigrationProgress) -> Void = { _ in }) {
        self.storage = storage
        self.directory = directory
        self.validator = validator
        self.clock = clock
        self.holder = holder
        self.options = options
        self.progress = progress
    }

    public func status() throws -> MigrationStatus {
        let storage = storage
        return MigrationStatus(directory: directory, ledger: try blocking { try await storage.migrationLedger() })
    }

    /// The documents recorded for migration `id`: those `up --on-error skip`
    /// left as they were, and those a rollback could not restore.
    public func failures(of id: String) throws -> [MigrationFailure] {
        let storage = storage
        return try blocking { try await storage.migrationFailures(migration: id) }
    }

    /// The lock as stored (live or expired), for `status`.
    public func lock() throws -> MigrationLock? {
        let storage = storage
        return try blocking { try await storage.migrationLock() }
    }

    // MARK: up

    /// Runs the pending migrations through `through` (all when nil).
    /// `accepting` acknowledges changed files by id or name. A dry run reads
    /// everything and writes nothing, not even the lock.
    ///
    /// What to run is decided twice: before the lock, so that a broken file
    /// or a blocked ledger fails before anything is locked; and again under
    /// the lock, from the ledger as it is then, since another runner may
    /// have applied migrations (and released the lock) in between.
    public func up(through: String? = nil, accepting: [String] = [], dryRun: Bool = false) throws -> MigrationReport {
        var scripts: [String: MigrationScript] = [:]
        let preview = try plan(try self.status(), through: through, accepting: accepting, scripts: &scripts)
        var report = MigrationReport(dryRun: dryRun)
        if dryRun {
            for entry in preview.pending {
                var result = try simulate(entry, scripts[entry.id]!)
                result.warnings = scripts[entry.id]!.warnings
                report.migrations.append(result)
            }
            return report
        }
        guard !preview.pending.isEmpty || !preview.accepted.isEmpty else { return report }
        try withLock { keeper in
            let (accepted, pending) = try plan(try self.status(), through: through, accepting: accepting,
                                               scripts: &scripts)
            for entry in accepted {
                var record = entry.record!
                record.checksum = entry.file!.checksum
                try save(record, startingOver: false)
            }
            for entry in pending {
                var result = try apply(entry, scripts[entry.id]!, keeper)
                result.warnings = scripts[entry.id]!.warnings
                report.migrations.append(result)
                if result.state != MigrationRecord.State.applied.rawValue { break }
            }
        }
        return report
    }

    /// The changed files acknowledged and the migrations to run, from
    /// `status`; loads the scripts not loaded yet into `scripts` (by id).
    private func plan(_ status: MigrationStatus, through: String?, accepting: [String],
                      scripts: inout [String: MigrationScript]) throws
        -> (accepted: [MigrationStatus.Entry], pending: [MigrationStatus.Entry]) {
        var accepted: [MigrationStatus.Entry] = []
        for ref in accepting {
            guard let entry = status.entry(ref) else {
                throw KeepError(.notFound, "--accept-changed \(ref): no migration has that number or name")
            }
            guard entry.fileChanged else {
                throw KeepError(.invalid, "--accept-changed \(ref): \(entry.fileName) has not changed since it ran")
            }
            accepted.append(entry)
        }
        let pending = try status.pending(through: through, accepting: Set(accepted.map(\.id)))
        for entry in pending where scripts[entry.id] == nil {
            scripts[entry.id] = try MigrationScript(file: entry.file!, root: directory.path, validator: validator,
                                                    budget: options.budget)
        }
        return (accepted, pending)
    }

    /// One migration, from its checkpoint to the end (or to a failing document).
    private func apply(_ entry: MigrationStatus.Entry, _ script: MigrationScript,
                       _ keeper: LeaseKeeper) throws -> MigrationReport.Entry {
        var record: MigrationRecord
        var startingOver = false
        if let existing = entry.record, existing.state == .running || existing.state == .failed {
            record = existing
            record.state = .running
            record.lastError = nil
        } else {
            record = MigrationRecord(id: script.file.id, name: script.file.name, description: script.description,
                                     target: script.target, checksum: script.file.checksum, state: .running,
                                     keepsBackup: options.keepsBackup, startedAt: clock.now())
            startingOver = true
        }
        record.description = script.description
        record.target = script.target
        record.checksum = script.file.checksum
        try save(record, startingOver: startingOver)
        var result = reportEntry(script, record)
        result.resumed = record.checkpoint != nil

        let total = try documentCount(script.target)
        let started = ContinuousClock.now
        var lastSubmitted = started
        var processed: Int64 = 0
        let storage = storage
        let (holder, lease, onError) = (holder, options.leaseMilliseconds, options.onError)
        // Batch N commits on the store's writer while this thread reads and
        // transforms batch N + 1; one commit in flight keeps them in order.
        let commits = CommitPipeline()
        /// Documents of the batch in flight: if its commit stops the run, they were looked at but not written.
        var inFlight: Int64 = 0
        // However the loop ends, nothing is left writing behind the caller's back.
        defer { _ = try? commits.wait() }
        /// Waits for the commit in flight; a document that failed inside it (`redo`) stops the run.
        func settle() throws -> MigrationReport.Entry? {
            do {
                guard let committed = try commits.wait() else { return nil }
                record = committed
            } catch let error as KeepError where error.details[Self.stopKey] != nil {
                let failure = MigrationFailure(kind: DocumentKind(rawValue: error.details["kind"]?.text ?? "") ?? .session,
                                               id: try ResourceID(error.details["id"]?.text ?? ""), message: error.message)
                return try stop(&record, result, at: failure, looked: inFlight, since: lastSubmitted)
            }
            inFlight = 0
            progress(MigrationProgress(id: record.id, file: script.file.fileName, done: record.scanned, total: total,
                                       changed: record.changed, failed: record.failed,
                                       elapsedSeconds: Self.seconds(since: started),
                                       processedThisRun: processed, finished: false))
            return nil
        }
        for (kind, start) in walk(script.target, from: record.checkpoint) {
            var after = start
            while true {
                try keeper.check()
                try checkInterrupt()
                let documents = try blocking { [after, batchSize = options.batchSize, batchBytes = options.batchBytes] in
                    try await storage.migrationDocuments(kind, after: after, limit: batchSize, byteLimit: batchBytes)
                }
                guard let last = documents.last else { break }
                var changes: [MigrationChange] = []
                var unchanged: [MigrationDocument] = []
                var failures: [MigrationFailure] = []
                for (index, document) in documents.enumerated() {
                    try checkInterrupt()
                    switch try script.transform(document) {
                    case .unchanged: unchanged.append(document)
                    case .changed(let migrated): changes.append(MigrationChange(before: document, after: migrated))
                    case .failed(let message):
                        let failure = MigrationFailure(kind: kind, id: document.id, message: message)
                        if onError == .stop {
                            if let stopped = try settle() { return stopped }
                            return try stop(&record, result, at: failure, looked: Int64(index + 1), since: lastSubmitted)
                        }
                        failures.append(failure)
                    }
                }
                if let stopped = try settle() { return stopped }
                let submitted = ContinuousClock.now
                let batch = MigrationBatch(record: record, scanned: Int64(documents.count), changes: changes,
                                           unchanged: unchanged, failures: failures,
                                           checkpoint: MigrationCheckpoint(kind: kind, id: last.id),
                                           elapsedMilliseconds: Self.milliseconds(between: lastSubmitted, submitted))
                lastSubmitted = submitted
                inFlight = Int64(documents.count)
                let now = clock.now()
                commits.submit {
                    try await storage.commitMigrationBatch(batch, holder: holder, now: now,
                                                           leaseMilliseconds: lease) { current in
                        let outcome = try script.transform(current)
                        if case .failed(let message) = outcome, onError == .stop {
                            throw Self.stopSignal(MigrationFailure(kind: current.kind, id: current.id, message: message))
                        }
                        return outcome
                    }
                }
                after = last.id
                processed += Int64(documents.count)
            }
        }
        if let stopped = try settle() { return stopped }
        record.elapsedMilliseconds += Self.milliseconds(between: lastSubmitted, ContinuousClock.now)
        record.state = .applied
        record.finishedAt = clock.now()
        try save(record, startingOver: false)
        progress(MigrationProgress(id: record.id, file: script.file.fileName, done: record.scanned,
                                   total: max(total, record.scanned), changed: record.changed, failed: record.failed,
                                   elapsedSeconds: Self.seconds(since: started), processedThisRun: processed,
                                   finished: true))
        result = reportEntry(script, record, resumed: result.resumed)
        let storageForFailures = self.storage
        let id = record.id
        result.failures = MigrationReport.failures(try blocking { try await storageForFailures.migrationFailures(migration: id) })
        return result
    }

    /// `--on-error stop`: the failing batch is not written; the record keeps
    /// the checkpoint before it and says what failed.
    /// The ledger counts what committed batches did; the report adds the
    /// `looked` documents of the failing batch (up to the failing one) to
    /// `scanned` and the failing document to `failed`, so that it agrees with
    /// the error below it. Nothing of that batch was written (`changed`).
    private func stop(_ record: inout MigrationRecord, _ entry: MigrationReport.Entry,
                      at failure: MigrationFailure, looked: Int64, since lastCommit: ContinuousClock.Instant) throws
        -> MigrationReport.Entry {
        record.state = .failed
        record.lastError = "\(failure.kind.rawValue) \(failure.id): \(failure.message)"
        record.elapsedMilliseconds += Self.milliseconds(since: lastCommit)
        try save(record, startingOver: false)
        var result = entry
        result.state = record.state.rawValue
        result.scanned = record.scanned + max(1, looked)
        result.changed = record.changed
        result.failed = record.failed + 1
        result.elapsedMilliseconds = record.elapsedMilliseconds
        result.error = record.lastError
        result.failures = [MigrationReport.Failure(kind: failure.kind.rawValue, id: failure.id.rawValue,
                                                   message: failure.message)]
        return result
    }

    static let stopKey = "migration_stop"

    static func stopSignal(_ failure: MigrationFailure) -> KeepError {
        KeepError(.invalid, failure.message, details: [stopKey: true, "kind": .text(failure.kind.rawValue), "id": .text(failure.id.rawValue)])
    }

    // MARK: dry run

    /// What `apply` would do, without writing: counts, failures, sample diffs.
    private func simulate(_ entry: MigrationStatus.Entry, _ script: MigrationScript) throws -> MigrationReport.Entry {
        var result = reportEntry(script, nil)
        result.state = "dry_run"
        let resuming = entry.record.flatMap { [.running, .failed].contains($0.state) ? $0 : nil }
        result.resumed = resuming?.checkpoint != nil
        let total = try documentCount(script.target)
        let started = ContinuousClock.now
        var failures: [MigrationFailure] = []
        let storage = storage
        walking: for (kind, start) in walk(script.target, from: resuming?.checkpoint) {
            var after = start
            while true {
                let documents = try blocking { [after, batchSize = options.batchSize, batchBytes = options.batchBytes] in
                    try await storage.migrationDocuments(kind, after: after, limit: batchSize, byteLimit: batchBytes)
                }
                guard let last = documents.last else { break }
                for document in documents {
                    try checkInterrupt()
                    result.scanned += 1
                    switch try script.transform(document) {
                    case .unchanged: continue
                    case .changed(let migrated):
                        result.changed += 1
                        if result.samples.count < options.sampleCount {
                            result.samples.append(try sample(document, migrated, script))
                        }
                    case .failed(let message):
                        result.failed += 1
                        failures.append(MigrationFailure(kind: kind, id: document.id, message: message))
                        if options.onError == .stop {
                            result.error = "\(kind.rawValue) \(document.id): \(message) (a real run stops here)"
                            break walking
                        }
                    }
                }
                after = last.id
                progress(MigrationProgress(id: script.file.id, file: script.file.fileName, done: result.scanned,
                                           total: total, changed: result.changed, failed: result.failed,
                                           elapsedSeconds: Self.seconds(since: started),
                                           processedThisRun: result.scanned, finished: false))
            }
        }
        result.elapsedMilliseconds = Self.milliseconds(since: started)
        result.failures = MigrationReport.failures(failures)
        return result
    }

    private func sample(_ before: MigrationDocument, _ after: MigrationDocument,
                        _ script: MigrationScript) throws -> MigrationReport.Sample {
        typealias Change = MigrationReport.Sample.Change
        let content = before.hash == after.hash ? []
            : ContentDiff.lines(before: try script.canonicalText(of: before.content), after: after.content)
        return MigrationReport.Sample(
            kind: before.kind.rawValue, id: before.id.rawValue,
            title: before.title == after.title ? nil : Change(before: before.title, after: after.title),
            description: before.description == after.description
                ? nil : Change(before: before.description, after: after.description),
            content: content)
    }

    // MARK: rollback

    /// Restores every document the migration changed (that nobody changed since).
    /// The checks run again under the lock, on the ledger as it is then.
    public func rollback(_ ref: String) throws -> MigrationReport {
        func checked() throws -> (MigrationStatus.Entry, MigrationRecord) {
            let status = try self.status()
            guard let entry = status.entry(ref) else {
                throw KeepError(.notFound, "rollback \(ref): no migration has that number or name; see `keep migrate status`")
            }
            try status.checkRollback(entry)
            return (entry, entry.record!)
        }
        var (entry, record) = try checked()
        var result = MigrationReport.Entry(id: record.id, file: entry.fileName, description: record.description,
                                           target: record.target.rawValue, state: "")
        try withLock { keeper in
            (entry, record) = try checked()
            record.state = .rollingBack
            try save(record, startingOver: false)
            let started = ContinuousClock.now
            var tally = RollbackTally()
            let storage = storage
            let (holder, lease, id) = (holder, options.leaseMilliseconds, record.id)
            while true {
                try keeper.check()
                try checkInterrupt()
                let backups = try blocking { [batchSize = options.batchSize] in
                    try await storage.migrationBackups(migration: id, limit: batchSize)
                }
                if backups.isEmpty { break }
                let now = clock.now()
                tally = tally + (try blocking {
                    try await storage.commitRollbackBatch(migration: id, backups, holder: holder, now: now,
                                                          leaseMilliseconds: lease)
                })
                let done = tally.restored + tally.conflicts + tally.gone
                progress(MigrationProgress(id: id, file: entry.fileName, done: done, total: max(record.changed, done),
                                           changed: tally.restored, failed: tally.conflicts,
                                           elapsedSeconds: Self.seconds(since: started), processedThisRun: done,
                                           finished: false))
            }
            let done = tally.restored + tally.conflicts + tally.gone
            progress(MigrationProgress(id: id, file: entry.fileName, done: done, total: done, changed: tally.restored,
                                       failed: tally.conflicts, elapsedSeconds: Self.seconds(since: started),
                                       processedThisRun: done, finished: true))
            record.state = .rolledBack
            record.checkpoint = nil
            record.lastError = nil
            record.finishedAt = clock.now()
            try save(record, startingOver: false)
            result.state = record.state.rawValue
            result.restored = tally.restored
            result.conflicts = tally.conflicts
            result.gone = tally.gone
            result.elapsedMilliseconds = Self.milliseconds(since: started)
            let failures = try blocking { try await storage.migrationFailures(migration: id) }
            result.failures = MigrationReport.failures(failures.filter { $0.message.hasPrefix("rollback:") })
        }
        var report = MigrationReport(dryRun: false)
        report.migrations = [result]
        return report
    }

    // MARK: Shared steps

    /// A Ctrl-C that came while no Lua ran (reading, committing, restoring
    /// backups) stops the run here. Only runs with an interruptible budget
    /// listen: the pending flag is process-wide.
    private func checkInterrupt() throws(KeepError) {
        if options.budget.interruptible && LuaState.takeInterrupt() {
            throw KeepError(.interrupted, "stopped by an interrupt (SIGINT); committed batches stay, "
                + "and the next run resumes after the last one")
        }
    }

    /// Takes the lock (failing fast with who holds it), keeps it alive while
    /// `body` runs, and gives it back however `body` ends.
    private func withLock(_ body: (LeaseKeeper) throws -> Void) throws {
        let storage = storage
        let (holder, lease, now) = (holder, options.leaseMilliseconds, clock.now())
        if let held = try blocking({ try await storage.acquireMigrationLock(holder: holder, now: now, leaseMilliseconds: lease) }) {
            let seconds = max(0, (held.expiresAt.millisecondsSinceEpoch - now.millisecondsSinceEpoch + 999) / 1000)
            throw KeepError(.conflict, "migrations are locked by \(held.holder) (since \(held.acquiredAt)); its lease "
                + "runs \(seconds) s more unless it renews it. Wait for it to finish; if it died, run again once the "
                + "lease has expired", details: ["holder": .text(held.holder), "expires_at": .text(held.expiresAt.iso8601)])
        }
        let keeper = LeaseKeeper(storage: storage, holder: holder, leaseMilliseconds: lease, clock: clock)
        keeper.start()
        defer {
            keeper.stop()
            _ = try? blocking { try await storage.releaseMigrationLock(holder: holder) }
        }
        try body(keeper)
    }

    private func save(_ record: MigrationRecord, startingOver: Bool) throws {
        let storage = storage
        let (holder, lease, now) = (holder, options.leaseMilliseconds, clock.now())
        try blocking {
            try await storage.saveMigrationRecord(record, startingOver: startingOver, holder: holder, now: now,
                                                  leaseMilliseconds: lease)
        }
    }

    private func documentCount(_ target: MigrationTarget) throws -> Int64 {
        let storage = storage
        var total: Int64 = 0
        for kind in target.kinds { total += try blocking { try await storage.migrationDocumentCount(kind) } }
        return total
    }

    /// The collections still to walk and where in each to start, from a checkpoint.
    private func walk(_ target: MigrationTarget, from checkpoint: MigrationCheckpoint?) -> [(DocumentKind, ResourceID?)] {
        let kinds = target.kinds
        guard let checkpoint, let position = kinds.firstIndex(of: checkpoint.kind) else { return kinds.map { ($0, nil) } }
        return [(checkpoint.kind, checkpoint.id)] + kinds[(position + 1)...].map { ($0, nil) }
    }

    private func reportEntry(_ script: MigrationScript, _ record: MigrationRecord?,
                             resumed: Bool = false) -> MigrationReport.Entry {
        var entry = MigrationReport.Entry(id: script.file.id, file: script.file.fileName, description: script.description,
                                          target: script.target.rawValue, state: record?.state.rawValue ?? "pending")
        entry.resumed = resumed
        if let record {
            entry.scanned = record.scanned
            entry.changed = record.changed
            entry.failed = record.failed
            entry.elapsedMilliseconds = record.elapsedMilliseconds
            entry.error = record.lastError
        }
        return entry
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Int64 {
        milliseconds(between: start, ContinuousClock.now)
    }

    static func milliseconds(between start: ContinuousClock.Instant, _ end: ContinuousClock.Instant) -> Int64 {
        let elapsed = end - start
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// At most one batch commit in flight, run on Swift's pool while the
/// runner's thread prepares the next batch.
private final class CommitPipeline: @unchecked Sendable {
    private var inFlight: DispatchSemaphore?
    /// Written by the commit's task before it signals, read after the wait.
    private var outcome: Result<MigrationRecord, any Error>?

    /// Starts `commit`; the previous one must have been waited for.
    func submit(_ commit: @escaping @Sendable () async throws -> MigrationRecord) {
        precondition(inFlight == nil, "a migration batch commit is already in flight")
        let semaphore = DispatchSemaphore(value: 0)
        inFlight = semaphore
        Task.detached { [self] in
            do { outcome = .success(try await commit()) } catch { outcome = .failure(error) }
            semaphore.signal()
        }
    }

    /// The record the commit in flight left, once it is done; nil when none was in flight.
    func wait() throws -> MigrationRecord? {
        guard let semaphore = inFlight else { return nil }
        semaphore.wait()
        inFlight = nil
        defer { outcome = nil }
        return try outcome!.get()
    }
}
