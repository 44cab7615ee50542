import ArgumentParser
import KeepCore
import KeepPostgres
import KeepSQLite
import KeepStore
#if canImport(Glibc)
import Glibc
#endif

/// What `--db` (or `$KEEP_DB`) names: an SQLite file (the embedded default),
/// or a PostgreSQL database by URL (`postgres://` or `postgresql://`).
enum DatabaseTarget {
    case file(String)
    case postgres(PostgresLocation)

    /// Every backend a command can work on.
    typealias Storage = KeepStorage & MigrationStorage

    /// Parses `text`; a URL that cannot be used is `invalid` (the message
    /// never shows its password).
    init(_ text: String) throws(KeepError) {
        if PostgresLocation.isURL(text) {
            self = .postgres(try PostgresLocation(url: text))
        } else {
            _ = try DatabaseFile(path: text)
            self = .file(text)
        }
    }

    /// The database as messages and the REPL banner name it: a URL without its password.
    var label: String {
        switch self {
        case .file(let path): path
        case .postgres(let location): location.redacted
        }
    }

    /// Whether the database can exist before Keep first writes to it: a
    /// server's database always may; a file is checked.
    var mayExist: Bool {
        switch self {
        case .file(let path): access(path, F_OK) == 0
        case .postgres: true
        }
    }

    /// Opens the database. `readOnly` (dry runs, `migrate status`): SQLite
    /// opens the file without writing; PostgreSQL sets up a missing schema
    /// as any open does, then runs every transaction read-only.
    func open(readOnly: Bool, notice: @escaping @Sendable (String) -> Void) throws -> any Storage {
        switch self {
        case .file(let path):
            return try SQLiteBackend(path: path, readOnly: readOnly, notice: notice)
        case .postgres(var location):
            location.readOnly = readOnly
            return try blocking { [location] in try await PostgresBackend.open(location) }
        }
    }

    /// Closes what `open` returned: SQLite folds its write-ahead log into the
    /// file; PostgreSQL closes the pool's connections.
    static func close(_ storage: any KeepStorage) throws {
        if let storage = storage as? SQLiteBackend {
            try storage.close()
        } else if let storage = storage as? PostgresBackend {
            try blocking { await storage.close() }
        }
    }
}
