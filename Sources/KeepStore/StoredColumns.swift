import KeepCore

/// The logical tables every backend stores, by the names of their columns:
/// one place for what a backend selects, so a backend only writes its own
/// SQL dialect around them.
public enum StoredColumns {
    public static let session = "id, owner, title, description, content, hash, version, created_at, updated_at"
    public static let snapshot = "id, owner, title, description, content, hash, created_at"
    public static let accessLog = """
        visitor, snapshot_id, snapshot_owner, visits, first_visited_at, last_visited_at, snapshot_title,
        snapshot_description, snapshot_created_at, snapshot_hash, snapshot_deleted, snapshot_deleted_at
        """
}
