import Foundation
import KeepCore

/// Where a PostgreSQL database is and how to reach it, parsed from a
/// `postgres://USER[:PASS]@HOST[:PORT]/DB[?PARAMS]` URL (also `postgresql://`).
///
/// The password is kept for connecting and never shown: `description` and
/// every error message use `redacted`.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// How the connection uses TLS (`sslmode`, as libpq names the modes Keep supports).
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, else plain TCP (libpq's default).
        case prefer
        /// TLS or no connection; the server's certificate is verified against
        /// the system's trust roots and the host name.
        case require
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// The PostgreSQL schema Keep's tables live in (`?schema=`); nil for the
    /// connection's default search path (normally `public`).
    public var schema: String?
    public var tls: TLSMode
    /// How long to wait for the server to accept a connection (`?connect_timeout=` seconds).
    public var connectTimeoutSeconds: Int
    /// Connections the pool may open at once (`?pool_size=`).
    public var poolSize: Int
    /// What the server's `pg_stat_activity` names Keep's connections
    /// (`?application_name=`, as libpq's; `keep` by default).
    public var applicationName = "keep"
    /// Every transaction after the schema set-up runs read-only (dry runs);
    /// not part of the URL.
    public var readOnly = false
    /// Pings idle connections (every 30 s), so that one a proxy or firewall
    /// dropped while quiet is replaced before a request needs it: for
    /// processes that idle between requests for long (`serve`, `jobs work`).
    /// Off for a script or a batch: the ping's timer, set and cancelled
    /// around every statement, cost a quarter of a one-at-a-time client's
    /// CPU. Not part of the URL.
    public var keepsIdleConnectionsAlive = false

    public static let defaultPort = 5432
    public static let defaultConnectTimeoutSeconds = 5
    public static let defaultPoolSize = 10
    /// The query parameters Keep understands.
    public static let parameters = ["sslmode", "schema", "connect_timeout", "pool_size", "application_name"]

    /// Whether `text` names a PostgreSQL database rather than a file: it
    /// starts with `postgres://` or `postgresql://` (case-insensitive).
    public static func isURL(_ text: String) -> Bool {
        let lower = text.prefix(14).lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Parses a URL; `invalid` says what is wrong and what is allowed,
    /// without echoing the password.
    public init(url text: String) throws(KeepError) {
        guard Self.isURL(text) else {
            throw Self.invalid(text, "it must start with postgres:// or postgresql://")
        }
        guard let components = URLComponents(string: text) else {
            throw Self.invalid(text, "it is not a well-formed URL (percent-encode special characters in the user name and password, e.g. @ as %40)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw Self.invalid(text, "it names no host; give one, e.g. postgres://keep@localhost/keep")
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let port = components.port {
            guard (1 ... 65535).contains(port) else { throw Self.invalid(text, "port \(port) is outside 1 to 65535") }
            self.port = port
        } else {
            port = Self.defaultPort
        }
        guard let user = components.user, !user.isEmpty else {
            throw Self.invalid(text, "it names no user; give one before the host, e.g. postgres://keep@\(self.host)/keep")
        }
        self.user = user
        password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.isEmpty, !path.contains("/") else {
            throw Self.invalid(text, "it names no database; give one after the host, e.g. postgres://\(user)@\(self.host)/keep")
        }
        database = path
        schema = nil
        tls = .prefer
        connectTimeoutSeconds = Self.defaultConnectTimeoutSeconds
        poolSize = Self.defaultPoolSize
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw Self.invalid(text, "sslmode '\(value)' is not supported; use "
                        + TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                tls = mode
            case "schema":
                guard Self.isPlainName(value) else {
                    throw Self.invalid(text, "schema '\(value)' is not a plain name: 1 to 63 of a-z, 0-9 and _, starting with a letter or _")
                }
                schema = value
            case "connect_timeout":
                guard let seconds = Int(value), (1 ... 600).contains(seconds) else {
                    throw Self.invalid(text, "connect_timeout '\(value)' must be whole seconds from 1 to 600")
                }
                connectTimeoutSeconds = seconds
            case "pool_size":
                guard let size = Int(value), (1 ... 1000).contains(size) else {
                    throw Self.invalid(text, "pool_size '\(value)' must be a number of connections from 1 to 1000")
                }
                poolSize = size
            case "application_name":
                // PostgreSQL keeps the first 63 bytes of printable ASCII.
                guard (1 ... 63).contains(value.utf8.count), value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                    throw Self.invalid(text, "application_name '\(value)' must be 1 to 63 printable ASCII characters")
                }
                applicationName = value
            default:
                throw Self.invalid(text, "the parameter '\(item.name)' is not supported; the parameters are "
                    + Self.parameters.joined(separator: ", "))
            }
        }
    }

    /// The URL with the password replaced by `***`, for messages.
    public var redacted: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        var text = "postgres://\(user)\(password == nil ? "" : ":***")@\(hostPart):\(port)/\(database)"
        if let schema { text += "?schema=\(schema)" }
        return text
    }

    public var description: String { redacted }

    /// Lower-case letters, digits and `_`, starting with a letter or `_`, at most
    /// 63 bytes: a schema name that needs no quoting anywhere.
    static func isPlainName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63,
              first == UInt8(ascii: "_") || (UInt8(ascii: "a") ... UInt8(ascii: "z")).contains(first) else { return false }
        return name.utf8.allSatisfy {
            $0 == UInt8(ascii: "_") || (UInt8(ascii: "a") ... UInt8(ascii: "z")).contains($0)
                || (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains($0)
        }
    }

    /// `invalid`, naming the URL without its password.
    private static func invalid(_ text: String, _ problem: String) -> KeepError {
        KeepError(.invalid, "the database URL \(redact(text)) is not usable: \(problem); the form is "
            + "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require&schema=NAME&connect_timeout=SECONDS&pool_size=N&application_name=NAME]")
    }

    /// The text with anything between `://USER:` and the last `@` hidden (a
    /// URL that did not parse may still carry a password).
    static func redact(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text.range(of: "@", options: .backwards),
              scheme.upperBound <= at.lowerBound else { return text }
        let credentials = text[scheme.upperBound ..< at.lowerBound]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at.lowerBound...])
    }
}
