import GRDB

extension SQLiteBackend {
    /// The SQLite library Keep runs on, e.g. "3.40.1" (`keep --version`).
    /// Asked of an in-memory database, so no file is opened or created.
    public static var sqliteVersion: String {
        (try? DatabaseQueue().read { try String.fetchOne($0, sql: "SELECT sqlite_version()") } ?? nil) ?? "unknown"
    }
}
