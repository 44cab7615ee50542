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
    /// Names this runner in the lock (`MigrationHolder`: "keep-migrate@host:pid#nonce").
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

    // MARK: Shared steps

    /// A Ctrl-C that came while no Lua ran (reading, committing, restoring
    /// backups) stops the run here. Only runs with an interruptible budget
    /// listen: the pending flag is process-wide.
    func checkInterrupt() throws(KeepError) {
        if options.budget.interruptible && LuaState.takeInterrupt() {
            throw KeepError(.interrupted, "stopped by an interrupt (SIGINT); committed batches stay, "
                + "and the next run resumes after the last one")
        }
    }

    /// Takes the lock (failing fast with who holds it), keeps it alive while
    /// `body` runs, and gives it back however `body` ends.
    func withLock(_ body: (LeaseKeeper) throws -> Void) throws {
        let storage = storage
        let (holder, lease, now) = (holder, options.leaseMilliseconds, clock.now())
        if let held = try blocking({ try await storage.acquireMigrationLock(holder: holder, now: now, leaseMilliseconds: lease) }) {
            let seconds = max(0, (held.expiresAt.millisecondsSinceEpoch - now.millisecondsSinceEpoch + 999) / 1000)
            throw KeepError(.conflict, "migrations are locked by \(held.holder) (since \(held.acquiredAt)); its lease "
                + "runs \(seconds) s more unless it renews it. Wait for it to finish; if it died on another host, run again "
                + "once the lease has expired, or release the lock with `keep migrate unlock`", details: ["holder": .text(held.holder), "expires_at": .text(held.expiresAt.iso8601)])
        }
        let keeper = LeaseKeeper(storage: storage, holder: holder, leaseMilliseconds: lease, clock: clock)
        keeper.start()
        defer {
            keeper.stop()
            _ = try? blocking { try await storage.releaseMigrationLock(holder: holder) }
        }
        try body(keeper)
    }

    func save(_ record: MigrationRecord, startingOver: Bool) throws {
        let storage = storage
        let (holder, lease, now) = (holder, options.leaseMilliseconds, clock.now())
        try blocking {
            try await storage.saveMigrationRecord(record, startingOver: startingOver, holder: holder, now: now,
                                                  leaseMilliseconds: lease)
        }
    }

    func documentCount(_ target: MigrationTarget) throws -> Int64 {
        let storage = storage
        var total: Int64 = 0
        for kind in target.kinds { total += try blocking { try await storage.migrationDocumentCount(kind) } }
        return total
    }

    /// The collections still to walk and where in each to start, from a checkpoint.
    func walk(_ target: MigrationTarget, from checkpoint: MigrationCheckpoint?) -> [(DocumentKind, ResourceID?)] {
        let kinds = target.kinds
        guard let checkpoint, let position = kinds.firstIndex(of: checkpoint.kind) else { return kinds.map { ($0, nil) } }
        return [(checkpoint.kind, checkpoint.id)] + kinds[(position + 1)...].map { ($0, nil) }
    }

    func reportEntry(_ script: MigrationScript, _ record: MigrationRecord?,
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
