import KeepCore
import KeepPostgres
import KeepSQLite
import KeepStore

/// The storage a `DatabaseLocation` names, open, with how to close it.
public struct DatabaseBackend: Sendable {
    public let location: DatabaseLocation
    public let storage: any BackendStorage
    private let closeStorage: @Sendable () throws -> Void

    /// Opens the database. `readOnly` (dry runs, `migrate status`, the source
    /// of a copy): SQLite opens the file without writing; PostgreSQL sets up
    /// a missing schema as any open does, then runs every transaction
    /// read-only. `longRunning` (a service): PostgreSQL pings idle
    /// connections. `notice` hears when opening must wait for another
    /// connection's write lock.
    public init(_ location: DatabaseLocation, readOnly: Bool = false, longRunning: Bool = false,
                notice: @escaping @Sendable (String) -> Void) throws {
        self.location = location
        switch location {
        case .file(let path):
            let sqlite = try SQLiteBackend(path: path, readOnly: readOnly, notice: notice)
            storage = sqlite
            // Folds the write-ahead log into the file, so the file alone holds everything.
            closeStorage = { try sqlite.close() }
        case .postgres(var server):
            server.readOnly = readOnly
            server.keepsIdleConnectionsAlive = longRunning
            let postgres = try blocking { [server] in try await PostgresBackend.open(server) }
            storage = postgres
            closeStorage = { try blocking { await postgres.close() } }
        }
    }

    public func close() throws { try closeStorage() }
}
