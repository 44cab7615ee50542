#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRDB
import KeepCore
import KeepStore
import Synchronization

/// The embedded backend: one SQLite file through GRDB, in WAL mode, every
/// operation in a transaction, the schema created and upgraded by versioned
/// migrations (`SQLiteSchema`).
///
/// Reads never wait for writers: they run on read-only connections (a
/// `ReaderConnections`), which in WAL mode read the last commit
/// while another connection, in this process or another, holds the write
/// lock. Writes go through one read-write connection opened on the first
/// write; they wait for the write lock up to `lockWait.timeout`, then fail
/// as `unavailable`. Opening a current database writes nothing; only a
/// first-time set-up or a schema upgrade takes the write lock.
public final class SQLiteBackend: Sendable {
    /// Read-only connections for every read.
    let readers: ReaderConnections
    public let path: String
    /// Why writes are refused (nil when they are allowed).
    let readOnlyReason: String?
    /// The file and folder may be written (a dry run may still not write).
    private let fileIsWritable: Bool
    private let writer: WriterConnection
    let lockWait: WriteLockWait
    /// Read at open; replaced when `keep db copy` brings another database's.
    let pageTokenSecret: Mutex<[UInt8]>

    /// Opens (creating if needed) the database at `path` and, when it was set
    /// up by an older Keep, brings its schema up to date.
    ///
    /// `readOnly` opens an existing database without writing anything to it,
    /// not even a schema upgrade (dry runs promise an unchanged file); what
    /// an older schema lacks then reads as empty. A file or folder without
    /// write permission (see `DatabaseFile`) is opened the same way, and its
    /// writes answer `forbidden`. `notice` is told when opening must wait for
    /// another connection's write lock (to set up or upgrade the schema).
    public init(path: String, readOnly: Bool = false, notice: (@Sendable (String) -> Void)? = nil) throws {
        let file = try DatabaseFile(path: path)
        self.path = path
        fileIsWritable = file.readOnlyReason == nil
        let readOnlyReason = readOnly ? "it was opened read-only" : file.readOnlyReason
        self.readOnlyReason = readOnlyReason
        let lockWait = WriteLockWait(timeout: .seconds(5))
        self.lockWait = lockWait
        let writer = WriterConnection(path: path, lockWait: lockWait)
        self.writer = writer
        do {
            if !file.exists {
                if readOnly { throw KeepError(.notFound, "there is no database at \(path)") }
                if let reason = file.readOnlyReason {
                    throw KeepError(.forbidden, "cannot create the database \(path): \(reason)")
                }
                try Self.upgrade(writer.connection(), lockWait: lockWait, notice: notice, doing: "set up")
            }
            readers = try ReaderConnections(path: path, configuration: Self.readerConfiguration)
            var schema = try readers.transaction { try SchemaState(db: $0, path: path) }
            if !schema.isCurrent, readOnlyReason == nil {
                try Self.upgrade(writer.connection(), lockWait: lockWait, notice: notice, doing: "upgrade")
                schema = try readers.transaction { try SchemaState(db: $0, path: path) }
            }
            // A read-only database set up before the secret existed: tokens
            // then hold for this process only.
            pageTokenSecret = Mutex(schema.secret ?? SQLiteSchema.newSecret())
        } catch {
            throw Self.keepError(error, doing: "open the database \(path)", path: path, lockWait: lockWait)
        }
    }

    static var readerConfiguration: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        // WAL readers wait for no writer, but SQLite can still answer busy
        // while a crashed writer's log is recovered or the last connection
        // folds the log in as it closes: wait for that, briefly (reads run
        // on the server's event loops).
        configuration.busyMode = .timeout(1)
        configuration.prepareDatabase { db in
            // Reads map the file instead of copying pages through read(2).
            try db.execute(sql: "PRAGMA mmap_size = 268435456")
        }
        return configuration
    }

    /// Sets up or upgrades the schema (WAL mode, then the pending versions,
    /// the page-token secret among them), telling `notice` if it must wait.
    private static func upgrade(_ writer: DatabaseQueue, lockWait: WriteLockWait,
                                notice: (@Sendable (String) -> Void)?, doing: String) throws {
        if let notice {
            lockWait.onWait = {
                notice("waiting for the write lock to \(doing) the database schema: another connection holds it (waiting up to \(lockWait.timeoutText))")
            }
        }
        defer { lockWait.onWait = nil }
        do {
            try writer.writeWithoutTransaction { db in
                guard try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") == "wal" else {
                    throw KeepError(.unavailable, "could not \(doing) the database: SQLite would not switch it to WAL mode")
                }
            }
            try SQLiteSchema.migrator.migrate(writer)
        } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode) {
            throw KeepError(.unavailable, "the database is busy: another connection held the write lock for the whole busy timeout (\(lockWait.timeoutText)), and opening it must \(doing) its schema first (try again)",
                            details: ["busy": "write_lock"])
        }
    }

    /// Closes every connection, the read-write one last: the last connection
    /// to a database folds the write-ahead log into the file and deletes the
    /// `-wal` and `-shm` files, as when the sqlite3 shell exits (when another
    /// process still has the database open, they stay: they are its). A
    /// process that only read opens that connection here, without writing.
    /// Nothing may use the backend afterwards.
    public func close() throws {
        do {
            try readers.close()
            if fileIsWritable { try writer.connection().close() }
        } catch {
            throw Self.keepError(error, doing: "close the database", path: path, lockWait: lockWait)
        }
    }

    /// The journal mode and synchronous level in force (for diagnostics and
    /// for benchmarks that must compare like with like).
    public func settings() async throws -> (journalMode: String, synchronous: Int) {
        try await read("read the database settings") { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "?", try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1)
        }
    }

    /// The secret page tokens are signed with, read when the database opened.
    public func tokenSecret() async throws -> [UInt8] { pageTokenSecret.withLock { $0 } }

    /// Runs `body` in a write transaction, mapping database errors to
    /// `KeepError`. Unless `waiting` is false it waits for another
    /// connection's write lock up to the busy timeout.
    func write<T: Sendable>(_ doing: String, waiting: Bool = true,
                            _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            if let readOnlyReason {
                throw KeepError(.forbidden, "could not \(doing): the database \(path) is open read-only: \(readOnlyReason); reads work, writes need write permission on the file and its folder",
                                details: ["path": .text(path)])
            }
            let lockWait = self.lockWait
            return try await writer.connection().writeWithoutTransaction { db in
                lockWait.waits = waiting
                defer { lockWait.waits = true }
                var result: T?
                try db.inTransaction {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode) {
            throw busy(doing, waited: waiting)
        } catch {
            throw Self.keepError(error, doing: doing, path: path, lockWait: lockWait)
        }
    }

    /// `unavailable`, naming what holds the write lock when Keep can know it
    /// (a content migration records itself in `migration_lock`).
    private func busy(_ doing: String, waited: Bool) -> KeepError {
        var message = waited
            ? "the database is busy: another connection held the write lock for the whole busy timeout (\(lockWait.timeoutText)); could not \(doing)"
            : "the database is busy: another connection holds the write lock; could not \(doing) (this write does not wait)"
        let now = KeepClock.system.now()
        if let lock = try? readers.statement({ db in try Self.hasTable(db, "migration_lock") ? try Self.fetchLock(db) : nil }),
           lock.expiresAt > now {
            message += "; a content migration holds it: \(lock.holder)"
        } else {
            message += "; Keep cannot tell which process holds it (another keep command, or a program such as the sqlite3 shell)"
        }
        return KeepError(.unavailable, message + " (try again)", details: ["busy": "write_lock"])
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
        } catch {
            throw Self.keepError(error, doing: doing, path: path, lockWait: lockWait)
        }
    }

    /// Synchronous on purpose (see `read`); a separate function so that the
    /// synchronous GRDB overload is the one chosen.
    private func readOnCallingThread<T>(_ body: (Database) throws -> T) throws -> T {
        try readers.statement(body)
    }

    /// The first row `statement` gives, made into a value while the row is
    /// still the statement's: `Row.fetchOne` would first copy it, values and
    /// column names, which took longer than the point read itself. (The
    /// cursor resets the statement when it goes: it lives until `make` is done.)
    static func fetchFirst<T>(_ statement: Statement, arguments: StatementArguments,
                              _ make: (Row) throws -> T) throws -> T? {
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        return try withExtendedLifetime(rows) {
            guard let row = try rows.next() else { return nil }
            return try make(row)
        }
    }

    /// Whether `table` exists, asked of SQLite each time: GRDB's
    /// `tableExists` answers from what a connection looked up first, and
    /// another connection may have created the table since (a schema
    /// upgrade, another process setting the file up).
    static func hasTable(_ db: Database, _ table: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)"),
                          arguments: [table]) ?? false
    }

    static func keepError(_ error: any Error, doing: String, path: String, lockWait: WriteLockWait) -> KeepError {
        if let error = error as? KeepError { return error }
        if let error = error as? DatabaseError {
            let reason = error.message ?? "\(error.resultCode)"
            switch error.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return KeepError(.unavailable, "the database is busy (waited up to \(lockWait.timeoutText)); could not \(doing) (try again)",
                                 details: ["busy": "write_lock"])
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return KeepError(.invalid, "could not \(doing): the file \(path) is damaged or is not a Keep database (SQLite: \(reason)); restore it from a copy, or name another file with --db",
                                 details: ["path": .text(path)])
            case .SQLITE_READONLY:
                return KeepError(.forbidden, "could not \(doing): the database \(path) cannot be written (SQLite: \(reason))",
                                 details: ["path": .text(path)])
            case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CANTOPEN:
                return KeepError(.unavailable, "could not \(doing): \(reason)")
            default:
                return KeepError(.internal, "could not \(doing): \(reason)")
            }
        }
        return KeepError(.internal, "could not \(doing): \(error)")
    }
}

/// The read-write connection, opened on first use. Opening it writes
/// nothing: the file is already in WAL mode, which GRDB's pool would
/// otherwise make sure of with a write at every open.
final class WriterConnection: Sendable {
    private let path: String
    private let lockWait: WriteLockWait
    private let queue = Mutex<DatabaseQueue?>(nil)

    init(path: String, lockWait: WriteLockWait) {
        self.path = path
        self.lockWait = lockWait
    }

    func connection() throws -> DatabaseQueue {
        try queue.withLock { queue in
            if let queue { return queue }
            var configuration = Configuration()
            let lockWait = self.lockWait
            configuration.busyMode = .callback { tries in lockWait.retry(tries) }
            configuration.prepareDatabase { db in
                // As GRDB sets it for WAL: a commit is durable once the log is synced at checkpoints.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            let opened = try DatabaseQueue(path: path, configuration: configuration)
            queue = opened
            return opened
        }
    }
}

/// What opening learns from the schema, with one read.
struct SchemaState {
    var isCurrent: Bool
    var secret: [UInt8]?

    init(db: Database, path: String) throws {
        // A reader connection keeps the schema GRDB looked up the first time
        // (which tables exist, which migrations ran) while another connection
        // may have set the file up or upgraded it since: ask SQLite afresh.
        db.clearSchemaCache()
        guard try db.tableExists("grdb_migrations") else {
            let tables = try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 4
                """)
            guard tables.isEmpty else {
                throw KeepError(.invalid, "\(path) is an SQLite database but not a Keep database (it holds tables such as \(tables.joined(separator: ", "))); name another file with --db",
                                details: ["path": .text(path)])
            }
            isCurrent = false
            return
        }
        let migrator = SQLiteSchema.migrator
        if try migrator.hasBeenSuperseded(db) {
            throw KeepError(.invalid, "\(path) has a schema this version of Keep does not know (a newer Keep set it up, or it is not a Keep database); use a newer keep",
                            details: ["path": .text(path)])
        }
        isCurrent = try migrator.hasCompletedMigrations(db)
        if try db.tableExists("keep_meta") {
            secret = try Data.fetchOne(db, sql: "SELECT value FROM keep_meta WHERE key = 'page_token_secret'").map(Array.init)
        }
    }
}
