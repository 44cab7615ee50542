#if canImport(Glibc)
import Glibc
#endif
import GRDB
import KeepCore
import KeepStore

/// The embedded backend: one SQLite file through GRDB, in WAL mode, every
/// operation in a transaction, the schema created and upgraded by versioned
/// migrations (`SQLiteSchema`).
public final class SQLiteBackend: Sendable {
    let pool: DatabasePool

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// `readOnly` opens an existing database without writing anything to it,
    /// not even a schema upgrade (dry runs promise an unchanged file); what
    /// an older schema lacks then reads as empty.
    public init(path: String, readOnly: Bool = false) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)  // writers wait for each other instead of failing at once
        configuration.readonly = readOnly
        configuration.prepareDatabase { db in
            // Reads map the file instead of copying pages through read(2).
            try db.execute(sql: "PRAGMA mmap_size = 268435456")
        }
        do {
            if readOnly && access(path, F_OK) != 0 {
                throw KeepError(.notFound, "there is no database at \(path)")
            }
            pool = try DatabasePool(path: path, configuration: configuration)
            if !readOnly { try SQLiteSchema.migrator.migrate(pool) }
        } catch {
            throw Self.keepError(error, doing: "open the database \(path)")
        }
    }

    /// Folds the write-ahead log into the database file and closes every
    /// connection: afterwards the file alone holds everything (it can be
    /// copied), as after the sqlite3 shell exits. Commands that wrote a lot
    /// call it at the end; nothing may use the backend afterwards.
    public func close(readOnly: Bool = false) throws {
        do {
            if !readOnly { _ = try pool.writeWithoutTransaction { try $0.checkpoint(.truncate) } }
            try pool.close()
        } catch {
            throw Self.keepError(error, doing: "close the database")
        }
    }

    /// The journal mode and synchronous level in force (for diagnostics and
    /// for benchmarks that must compare like with like).
    public func settings() async throws -> (journalMode: String, synchronous: Int) {
        try await read("read the database settings") { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "?", try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1)
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

    /// Runs `body`, a single SELECT, on a reader connection. One statement is
    /// its own transaction in SQLite, so GRDB's explicit read transaction
    /// (BEGIN/COMMIT around it) is skipped; and the read runs on the calling
    /// thread: a point read takes microseconds, less than hopping to GRDB's
    /// queue and back (measured with scripts/bench.sh: gets/s went from
    /// about 8,100 to about 34,800, the sqlite3 shell's own rate).
    func read<T: Sendable>(_ doing: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try readOnCallingThread(body)
        } catch let error as KeepError {
            throw error
        } catch {
            throw Self.keepError(error, doing: doing)
        }
    }

    /// Synchronous on purpose (see `read`); a separate function so that the
    /// synchronous GRDB overload is the one chosen.
    private func readOnCallingThread<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.unsafeRead(body)
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
