import KeepCore

/// What a backend provides for content migrations (SPEC §7): the ledger, the
/// lock, documents in id order, and batches that commit their writes together
/// with the checkpoint, so a run killed at any instant resumes exactly where
/// its last batch ended.
///
/// Every write method takes the lock holder and renews its lease in the same
/// transaction; it fails with `conflict` when the lock is no longer the
/// holder's (its lease expired and another runner took over), so a runner
/// that stalled can never write behind its successor's back.
public protocol MigrationStorage: Sendable {
    /// Every migration this store knows, by id.
    func migrationLedger() async throws -> [MigrationRecord]

    /// The documents a migration recorded as failing (`--on-error skip`), by kind and id.
    func migrationFailures(migration: String) async throws -> [MigrationFailure]

    /// The lock as stored, live or expired; nil when nobody ever took it or it was released.
    func migrationLock() async throws -> MigrationLock?

    /// Takes the lock for `holder`, or renews it when it is already the
    /// holder's. Returns nil on success, or the live lock of another holder.
    ///
    /// A lock is free when its lease expired, or when its holder is known to
    /// be gone before that: on PostgreSQL, a holder keeps a session advisory
    /// lock for as long as it runs, which the server frees when its process
    /// dies; on SQLite, a holder on this host whose process no longer exists
    /// (`MigrationHolder.isGoneFromThisHost`). What the holder takes besides
    /// the lease (PostgreSQL's dedicated connection) it keeps until
    /// `releaseMigrationLock`.
    func acquireMigrationLock(holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> MigrationLock?

    /// Extends the holder's lease; false when the lock is no longer the holder's.
    func renewMigrationLock(holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Bool

    /// Gives the lock up, if `holder` has it, with what `acquireMigrationLock` took for it.
    func releaseMigrationLock(holder: String) async throws

    /// Removes the lock whoever holds it (`keep migrate unlock`) and returns
    /// it as it was; nil when there was none. A holder still running finds
    /// its lock gone at its next renewal or batch, and stops without writing.
    func breakMigrationLock() async throws -> MigrationLock?

    /// Inserts or replaces the record. `startingOver` also drops the backups
    /// and failures an earlier run of the migration left (a rolled-back
    /// migration applied again).
    func saveMigrationRecord(_ record: MigrationRecord, startingOver: Bool, holder: String, now: Timestamp,
                             leaseMilliseconds: Int64) async throws

    /// How many documents of `kind` there are (progress totals).
    func migrationDocumentCount(_ kind: DocumentKind) async throws -> Int64

    /// Up to `limit` documents of `kind` with ids after `after`, in id order,
    /// stopping early once their content adds up to `byteLimit` (at least one
    /// document is returned when there is one), so that a batch of large
    /// documents stays within memory.
    func migrationDocuments(_ kind: DocumentKind, after: ResourceID?, limit: Int, byteLimit: Int) async throws
        -> [MigrationDocument]

    /// Commits one batch in one transaction when every document is still as
    /// it was read: the changes are written, backups and failures recorded,
    /// and the record moves to the batch's checkpoint with its counts.
    /// Sessions written get version + 1; a snapshot's access-log copies
    /// follow its title, description and hash.
    ///
    /// When a document changed since it was read (or was deleted), nothing
    /// of the batch is written and the answer names those documents as
    /// stored now: the runner decides again on them, outside any lock, and
    /// commits again. No Lua runs inside this transaction.
    func commitMigrationBatch(_ batch: MigrationBatch, holder: String, now: Timestamp, leaseMilliseconds: Int64)
        async throws -> MigrationBatchOutcome

    /// Up to `limit` backups of the migration not yet restored (and not in conflict), in kind and id order.
    func migrationBackups(migration: String, limit: Int) async throws -> [MigrationBackup]

    /// Restores one batch of backups in one transaction. A document is
    /// restored only if it still is as the migration left it; one changed
    /// since is left alone and recorded as a failure of the migration, one
    /// deleted since is skipped. Restored documents are written like any
    /// change (sessions get version + 1). A patch that does not give back
    /// the old hash fails the batch (`internal`): nothing is written then.
    func commitRollbackBatch(migration: String, _ backups: [MigrationBackup], holder: String, now: Timestamp,
                             leaseMilliseconds: Int64) async throws -> RollbackTally
}

/// One batch of a run, as the runner decided it.
public struct MigrationBatch: Sendable {
    /// The record before this batch.
    public var record: MigrationRecord
    /// Documents read (changed or not).
    public var scanned: Int64
    public var changes: [MigrationChange]
    /// Documents `up` left as they were: checked again at commit, so one
    /// edited back into the old format meanwhile is migrated after all.
    public var unchanged: [MigrationDocument]
    public var failures: [MigrationFailure]
    /// The last document of the batch.
    public var checkpoint: MigrationCheckpoint
    /// Run time to add to the record.
    public var elapsedMilliseconds: Int64

    public init(record: MigrationRecord, scanned: Int64, changes: [MigrationChange], unchanged: [MigrationDocument] = [],
                failures: [MigrationFailure], checkpoint: MigrationCheckpoint, elapsedMilliseconds: Int64) {
        self.record = record
        self.scanned = scanned
        self.changes = changes
        self.unchanged = unchanged
        self.failures = failures
        self.checkpoint = checkpoint
        self.elapsedMilliseconds = elapsedMilliseconds
    }
}

/// What committing a batch came to.
public enum MigrationBatchOutcome: Sendable {
    /// Written; the record as committed.
    case committed(MigrationRecord)
    /// Nothing written: these documents changed since they were read.
    case moved([MigrationMovedDocument])
}

/// A document of a batch that changed between the runner's read and the commit.
public struct MigrationMovedDocument: Sendable, Equatable {
    public var kind: DocumentKind
    public var id: ResourceID
    /// The document as stored now; nil when it was deleted.
    public var current: MigrationDocument?

    public init(kind: DocumentKind, id: ResourceID, current: MigrationDocument?) {
        self.kind = kind
        self.id = id
        self.current = current
    }
}

extension MigrationBatch {
    /// The documents of the batch that are no longer stored as read: the
    /// changes `write` could not make (it writes only over what was read)
    /// and the unchanged documents `isStored` no longer finds. A backend runs
    /// this inside a savepoint and rolls it back when the answer is not empty.
    public func writeChanges(_ write: (MigrationChange) throws -> Bool,
                             isStored: (MigrationDocument) throws -> Bool) throws -> [MigrationDocument] {
        var moved: [MigrationDocument] = []
        for change in changes where try !write(change) { moved.append(change.before) }
        for document in unchanged where try !isStored(document) { moved.append(document) }
        return moved
    }

    /// The record once the whole batch is written.
    public var committedRecord: MigrationRecord {
        var next = record
        next.scanned += scanned
        next.changed += Int64(changes.count)
        next.failed += Int64(failures.count)
        next.checkpoint = checkpoint
        next.elapsedMilliseconds += elapsedMilliseconds
        return next
    }

    /// Decides again on the documents that moved, from what is stored now
    /// (a deleted one is dropped: there is nothing left to migrate). Returns
    /// the first failure when `stopOnFailure` (`--on-error stop`); the batch
    /// is then not to be committed.
    public mutating func redecide(_ moved: [MigrationMovedDocument], stopOnFailure: Bool,
                                  _ decide: (MigrationDocument) throws -> MigrationOutcome) throws -> MigrationFailure? {
        let keys = Set(moved.map { DocumentKey(kind: $0.kind, id: $0.id) })
        changes.removeAll { keys.contains(DocumentKey(kind: $0.before.kind, id: $0.before.id)) }
        unchanged.removeAll { keys.contains(DocumentKey(kind: $0.kind, id: $0.id)) }
        for document in moved.compactMap(\.current) {
            switch try decide(document) {
            case .unchanged: unchanged.append(document)
            case .changed(let after): changes.append(MigrationChange(before: document, after: after))
            case .failed(let message):
                let failure = MigrationFailure(kind: document.kind, id: document.id, message: message)
                if stopOnFailure { return failure }
                failures.append(failure)
            }
        }
        return nil
    }

    private struct DocumentKey: Hashable {
        var kind: DocumentKind
        var id: ResourceID
    }
}

/// A changed document's previous fields, and what the migration made of them.
public struct MigrationBackup: Sendable, Equatable {
    public var kind: DocumentKind
    public var id: ResourceID
    public var title: String
    public var description: String?
    public var hash: ContentHash
    /// Turns the migrated content back into the previous one.
    public var patch: ContentPatch
    public var afterTitle: String
    public var afterDescription: String?
    public var afterHash: ContentHash

    public init(kind: DocumentKind, id: ResourceID, title: String, description: String?, hash: ContentHash,
                patch: ContentPatch, afterTitle: String, afterDescription: String?, afterHash: ContentHash) {
        self.kind = kind
        self.id = id
        self.title = title
        self.description = description
        self.hash = hash
        self.patch = patch
        self.afterTitle = afterTitle
        self.afterDescription = afterDescription
        self.afterHash = afterHash
    }

    /// The backup of `change`.
    public init(_ change: MigrationChange) {
        let (before, after) = (change.before, change.after)
        self.init(kind: before.kind, id: before.id, title: before.title, description: before.description,
                  hash: before.hash, patch: ContentPatch(restoring: before.content, from: after.content),
                  afterTitle: after.title, afterDescription: after.description, afterHash: after.hash)
    }

    /// Whether `document` is still as the migration left it.
    public func isMigratedForm(_ document: MigrationDocument) -> Bool {
        document.title == afterTitle && document.description == afterDescription && document.hash == afterHash
    }

    /// The document as it was before the migration, from its migrated form;
    /// nil when the patch does not give back the content with its old hash.
    public func restored(from document: MigrationDocument) -> MigrationDocument? {
        guard let content = patch.apply(to: document.content), ContentHash(of: content) == hash else { return nil }
        var previous = document
        previous.title = title
        previous.description = description
        previous.content = content
        previous.hash = hash
        return previous
    }
}

/// What a rollback batch did.
public struct RollbackTally: Sendable, Equatable {
    public var restored: Int64 = 0
    /// Changed since the migration: left as they are, recorded as failures.
    public var conflicts: Int64 = 0
    /// Deleted since the migration.
    public var gone: Int64 = 0

    public init(restored: Int64 = 0, conflicts: Int64 = 0, gone: Int64 = 0) {
        self.restored = restored
        self.conflicts = conflicts
        self.gone = gone
    }

    public static func + (lhs: RollbackTally, rhs: RollbackTally) -> RollbackTally {
        RollbackTally(restored: lhs.restored + rhs.restored, conflicts: lhs.conflicts + rhs.conflicts,
                      gone: lhs.gone + rhs.gone)
    }
}
