import KeepCore

/// One stored value as every backend keeps it exactly: what `keep db copy`
/// moves and digests, below the domain's types (so ids, hashes, versions,
/// times and leases arrive as they were).
public enum TransferValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
    case bytes([UInt8])
}

/// A table of Keep's logical schema, the same on every backend: its columns
/// in a fixed order and its primary key (rows are copied and digested in key
/// order, text compared by bytes).
public struct TransferTable: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let columns: [String]
    /// A prefix of `columns`.
    public let key: [String]
    /// The columns that hold bytes rather than text (a backend may store both
    /// alike, as PostgreSQL stores document text as `bytea`).
    public let bytes: Set<String>

    init(name: String, columns: [String], key: [String], bytes: Set<String> = []) {
        self.name = name
        self.columns = columns
        self.key = key
        self.bytes = bytes
    }

    public var description: String { name }

    /// Everything a copy carries, parents before children. The migration lock is
    /// not among them: it belongs to a running process of the source.
    public static let all: [TransferTable] = [meta, sessions, snapshots, accessLogs, jobs, migrations,
                                              migrationBackups, migrationFailures]

    /// Settings such as the page-token secret (so that tokens stay valid after a copy).
    public static let meta = TransferTable(name: "keep_meta", columns: ["key", "value"], key: ["key"], bytes: ["value"])
    public static let sessions = TransferTable(name: "sessions", columns: [
        "id", "owner", "title", "title_key", "description", "content", "hash", "version", "created_at", "updated_at",
    ], key: ["id"])
    public static let snapshots = TransferTable(name: "snapshots", columns: [
        "id", "owner", "title", "title_key", "description", "content", "hash", "created_at",
    ], key: ["id"])
    public static let accessLogs = TransferTable(name: "access_logs", columns: [
        "visitor", "snapshot_id", "snapshot_owner", "visits", "first_visited_at", "last_visited_at", "snapshot_title",
        "snapshot_title_key", "snapshot_description", "snapshot_created_at", "snapshot_hash", "snapshot_deleted",
        "snapshot_deleted_at",
    ], key: ["visitor", "snapshot_id"])
    public static let jobs = TransferTable(name: "jobs", columns: [
        "id", "kind", "payload", "state", "attempts", "next_run_at", "last_error", "lease_holder", "lease_expires_at",
        "created_at", "updated_at",
    ], key: ["id"])
    public static let migrations = TransferTable(name: "migrations", columns: [
        "id", "name", "description", "target", "checksum", "state", "scanned", "changed", "failed", "checkpoint_kind",
        "checkpoint_id", "keeps_backup", "started_at", "finished_at", "elapsed_ms", "last_error",
    ], key: ["id"])
    public static let migrationBackups = TransferTable(name: "migration_backups", columns: [
        "migration", "kind", "id", "title", "description", "hash", "patch_prefix", "patch_suffix", "patch_middle",
        "after_title", "after_description", "after_hash", "conflict",
    ], key: ["migration", "kind", "id"], bytes: ["patch_middle"])
    public static let migrationFailures = TransferTable(name: "migration_failures", columns: [
        "migration", "kind", "id", "message",
    ], key: ["migration", "kind", "id"])
}

/// Where an unfinished copy into a database stands, stored in that database
/// with every batch (so a killed copy resumes after its last batch).
public struct TransferProgress: Sendable, Hashable, Codable {
    /// Identifies the source database (a digest of its page-token secret),
    /// so that only the same copy resumes.
    public var source: String
    /// The table being copied, and the key of its last copied row; tables
    /// before it in `TransferTable.all` are done.
    public var table: String
    public var after: [TransferKey]?

    public init(source: String, table: String, after: [TransferKey]?) {
        self.source = source
        self.table = table
        self.after = after
    }
}

/// A key column's value in a progress record (keys are text or integers).
public enum TransferKey: Sendable, Hashable, Codable {
    case integer(Int64)
    case text(String)
}

/// Everything a backend provides: the services' storage, the migration
/// ledger, and raw access for copies.
public typealias BackendStorage = KeepStorage & MigrationStorage & TransferStorage

/// Raw, exact access to every table, for `keep db copy` between backends.
public protocol TransferStorage: Sendable {
    /// Up to `limit` rows of `table` whose key follows `after` (all from the
    /// start when nil), in key order, with `table.columns` in order.
    func transferRows(_ table: TransferTable, after: [TransferValue]?, limit: Int) async throws -> [[TransferValue]]

    func transferCount(_ table: TransferTable) async throws -> Int64

    /// Stores `rows` as they are (keeping ids and times; an existing row with
    /// the same key is replaced) and `progress`, in one transaction.
    func transferInsert(_ table: TransferTable, rows: [[TransferValue]], progress: TransferProgress) async throws

    /// The unfinished copy into this database, if any.
    func transferProgress() async throws -> TransferProgress?

    /// Ends a copy: forgets its progress and brings what the backend derives
    /// from the rows (id sequences) up to date.
    func transferFinish() async throws
}
