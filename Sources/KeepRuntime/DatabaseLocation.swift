import KeepCore
import KeepPostgres
import KeepSQLite
#if canImport(Glibc)
import Glibc
#endif

/// What `--db` (or `$KEEP_DB`) names: an SQLite file (the embedded default),
/// or a PostgreSQL database by URL (`postgres://` or `postgresql://`).
public enum DatabaseLocation: Sendable {
    case file(String)
    case postgres(PostgresLocation)

    /// Parses `text`; a URL that cannot be used is `invalid` (the message
    /// never shows its password).
    public init(_ text: String) throws(KeepError) {
        if PostgresLocation.isURL(text) {
            self = .postgres(try PostgresLocation(url: text))
        } else {
            _ = try DatabaseFile(path: text)
            self = .file(text)
        }
    }

    /// Whether `text` is meant as a server URL (for usage messages).
    public static func isURL(_ text: String) -> Bool { PostgresLocation.isURL(text) }

    /// The database as messages and the REPL banner name it: a URL without its password.
    public var label: String {
        switch self {
        case .file(let path): path
        case .postgres(let location): location.redacted
        }
    }

    /// Whether the database can exist before Keep first writes to it: a
    /// server's database always may; a file is checked.
    public var mayExist: Bool {
        switch self {
        case .file(let path): access(path, F_OK) == 0
        case .postgres: true
        }
    }
}
