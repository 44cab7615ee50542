import KeepCore

/// The logical tables every backend stores, by the names of their columns:
/// one place for what a backend selects, so a backend only writes its own
/// SQL dialect around them.
public enum StoredColumns {
    /// The metadata first, then the content: a backend may read a row by
    /// position, the metadata's reader serving both.
    public static let session = sessionMetadata + ", content"
    public static let sessionMetadata = "id, owner, title, description, hash, version, created_at, updated_at"
    public static let snapshot = "id, owner, title, description, content, hash, created_at"
    public static let accessLog = """
        visitor, snapshot_id, snapshot_owner, visits, first_visited_at, last_visited_at, snapshot_title,
        snapshot_description, snapshot_created_at, snapshot_hash, snapshot_deleted, snapshot_deleted_at
        """
    /// A session or snapshot as a migration reads it (`MigrationDocument`).
    public static let migrationDocument = "id, owner, title, description, content, hash"
    /// A line of the migration ledger (`MigrationRecord`).
    public static let migrationRecord = """
        id, name, description, target, checksum, state, scanned, changed, failed, checkpoint_kind, checkpoint_id,
        keeps_backup, started_at, finished_at, elapsed_ms, last_error
        """
}

extension DocumentKind {
    /// The table documents of this kind are stored in.
    public var table: String {
        switch self {
        case .session: "sessions"
        case .snapshot: "snapshots"
        }
    }

    /// The kind a migration table names in its `kind` column.
    public init(stored raw: String) throws(KeepError) {
        guard let kind = DocumentKind(rawValue: raw) else {
            throw KeepError(.internal, "the migration ledger names an unknown document kind '\(raw)'")
        }
        self = kind
    }
}

extension MigrationRecord {
    /// A ledger row (`StoredColumns.migrationRecord`) as a record; its
    /// target, state and checkpoint kind must be ones this version knows.
    public init(storedID id: String, name: String, description: String, target: String, checksum: String,
                state: String, scanned: Int64, changed: Int64, failed: Int64, checkpointKind: String?,
                checkpointID: String?, keepsBackup: Bool, startedAt: Timestamp, finishedAt: Timestamp?,
                elapsedMilliseconds: Int64, lastError: String?) throws {
        guard let target = MigrationTarget(rawValue: target), let state = State(rawValue: state) else {
            throw KeepError(.internal, "the migration ledger's row \(id) has an unknown target or state")
        }
        self.init(id: id, name: name, description: description, target: target, checksum: checksum, state: state,
                  keepsBackup: keepsBackup, startedAt: startedAt)
        self.scanned = scanned
        self.changed = changed
        self.failed = failed
        if let checkpointKind, let checkpointID {
            checkpoint = MigrationCheckpoint(kind: try DocumentKind(stored: checkpointKind),
                                             id: try ResourceID(checkpointID))
        }
        self.finishedAt = finishedAt
        self.elapsedMilliseconds = elapsedMilliseconds
        self.lastError = lastError
    }
}
