import GRDB
import KeepCore
import KeepStore

/// The embedded backend: one SQLite file through GRDB, in WAL mode, every
/// operation in a transaction, the schema created and upgraded by versioned
/// migrations (`SQLiteSchema`).
public final class SQLiteBackend: Sendable {
    let pool: DatabasePool

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)  // writers wait for each other instead of failing at once
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try SQLiteSchema.migrator.migrate(pool)
        } catch {
            throw Self.keepError(error, doing: "open the database \(path)")
        }
    }

    /// Runs `body` in a write transaction, mapping database errors to `KeepError`.
    func write<T: Sendable>(_ doing: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.write(body)
        } catch let error as KeepError {
            throw error
        } catch {
            throw Self.keepError(error, doing: doing)
        }
    }

    func read<T: Sendable>(_ doing: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as KeepError {
            throw error
        } catch {
            throw Self.keepError(error, doing: doing)
        }
    }

    static func keepError(_ error: any Error, doing: String) -> KeepError {
        if let error = error as? KeepError { return error }
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return KeepError(.unavailable, "the database is busy; could not \(doing) (try again)")
            case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_READONLY:
                return KeepError(.unavailable, "could not \(doing): \(error.message ?? "\(error.resultCode)")")
            default:
                return KeepError(.internal, "could not \(doing): \(error.message ?? "\(error.resultCode)")")
            }
        }
        return KeepError(.internal, "could not \(doing): \(error)")
    }
}
