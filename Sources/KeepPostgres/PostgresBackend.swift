#if canImport(Glibc)
import Glibc
#endif
import Logging
import KeepCore
import KeepStore
import PostgresNIO
import Synchronization

/// The PostgreSQL backend: the storage protocols over a PostgresNIO
/// connection pool, for several hosts sharing one database (SPEC §1
/// "Storage backends"). Every operation is one statement or one
/// transaction; reads and writes use the driver's async API, so no
/// cooperative thread ever waits on the network.
///
/// Lifecycle: `open` connects once on its own (so that a wrong host,
/// password or database answers at once with what to check, instead of the
/// pool retrying in the background), brings the schema up to date
/// (`PostgresSchema`, under an advisory lock), then starts the pool's run
/// task. `close` (or the last reference going away) cancels it, which closes
/// every connection.
public final class PostgresBackend: Sendable {
    public let location: PostgresLocation
    let client: PostgresClient
    private let runTask: Task<Void, Never>
    /// Replaced when `keep db copy` brings another database's secret.
    let pageTokenSecret: Mutex<[UInt8]>
    /// The dedicated connection of each migration lock holder of this
    /// process, holding its session advisory lock (PostgresBackend+Migrations).
    let migrationLockSessions = Mutex<[String: PostgresConnection]>([:])

    /// PostgresNIO logs through swift-log; Keep reports through its errors instead.
    static let logger = Logger(label: "keep.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The connection kept for the prepared one-row statements of a caller
    /// that runs one at a time.
    let dedicated: DedicatedConnection

    private init(location: PostgresLocation, client: PostgresClient, secret: [UInt8], keepsConnection: Bool) {
        self.location = location
        self.client = client
        dedicated = DedicatedConnection(location, enabled: keepsConnection)
        pageTokenSecret = Mutex(secret)
        runTask = Task { await client.run() }
    }

    deinit {
        // Lock sessions a holder never released (tests; `close` was not called) close with the backend.
        for connection in migrationLockSessions.withLock({ Array($0.values) }) {
            connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
        }
        dedicated.close()
        runTask.cancel()
    }

    /// Connects to the database at `location`, sets up or upgrades its schema,
    /// and starts the pool. A server that is down, refuses the credentials
    /// or has no such database answers `unavailable` within the connect
    /// timeout; a schema from a newer Keep answers `invalid`.
    public static func open(_ location: PostgresLocation) async throws -> PostgresBackend {
        let doing = "open the database \(location)"
        let secret: [UInt8]
        let connection: PostgresConnection
        do {
            connection = try await connect(location, doing: doing)
            do {
                secret = try await PostgresSchema.prepare(connection, location: location)
            } catch {
                try? await connection.close()
                throw error
            }
        } catch {
            throw keepError(error, doing: doing, location: location)
        }
        try? await connection.close()
        // A kept connection's session is not read-only as the pool's are, and
        // nothing pings it while idle as the pool's are pinged for a
        // long-running server: a read-only open and `serve` / `jobs work` keep none.
        return PostgresBackend(location: location, client: PostgresClient(configuration: try clientConfiguration(location),
                                                                          backgroundLogger: logger),
                               secret: secret, keepsConnection: !location.readOnly && !location.keepsIdleConnectionsAlive)
    }

    /// One connection, within the connect timeout from the first packet to
    /// the end of authentication: a server that accepts the connection but
    /// never answers (hung, or not PostgreSQL) fails as one that is down.
    static func connect(_ location: PostgresLocation, doing: String) async throws -> PostgresConnection {
        let configuration = try connectionConfiguration(location)
        let seconds = location.connectTimeoutSeconds
        return try await withThrowingTaskGroup(of: PostgresConnection?.self) { group in
            group.addTask { try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger) }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let connection = try await group.next() ?? nil else {
                throw KeepError(.unavailable, "could not \(doing): could not reach PostgreSQL at \(location.host):\(location.port) (no answer within \(seconds) s: connect timeout); check that the server is running and that PostgreSQL, not another program, listens there",
                                details: ["reason": "unreachable"])
            }
            return connection
        }
    }

    /// Stops the pool and closes its connections. Nothing may use the backend afterwards.
    public func close() async {
        dedicated.close()
        for connection in migrationLockSessions.withLock({ sessions in defer { sessions = [:] }; return Array(sessions.values) }) {
            try? await connection.close()
        }
        runTask.cancel()
        await runTask.value
    }

    /// The connection kept for the statements that run most (the prepared
    /// one-row reads and writes) when the caller runs one statement at a
    /// time from a thread of its own — a `keep run` script, the REPL —
    /// through `blocking`: a `CallerDrivenConnection`, made on
    /// the first such statement, whose socket that thread serves itself. It
    /// skips the pool's lease and release and the event loop's thread.
    /// Statements from other threads, from tasks outside `blocking`, or that
    /// find it busy take a pooled connection.
    final class DedicatedConnection: Sendable {
        private struct State {
            var connection: CallerDrivenConnection?
            var busy = false
            /// Off for a read-only open, `serve` and `jobs work`, and after a connect failed.
            var enabled: Bool
        }

        private let location: PostgresLocation
        private let state: Mutex<State>

        init(_ location: PostgresLocation, enabled: Bool) {
            self.location = location
            state = Mutex(State(enabled: enabled))
        }

        /// The statement's rows, or nil when it should run on the pool. A
        /// connection the server closed while idle (a restart, an idle
        /// timeout) is replaced; after an error it is kept only when the
        /// error was the statement's own. A statement never runs twice: one that
        /// fails as the connection breaks fails as it would on the pool.
        func rows<Statement: PreparedRowsStatement>(_ statement: Statement) throws -> [PostgresRow]? {
            // Only a thread of its own, which may block on the socket.
            guard let executor = CallingThreadExecutor.current, executor.isWaitingThread else { return nil }
            let taken: CallerDrivenConnection?? = state.withLock { state in
                guard state.enabled, !state.busy else { return nil }
                if let connection = state.connection, !connection.isOwnedByCallingThread { return nil }
                state.busy = true
                return .some(state.connection)
            }
            guard case .some(let held) = taken else { return nil }
            let connection: CallerDrivenConnection
            if let held, held.isUsable() {
                connection = held
            } else {
                held?.close()
                do {
                    connection = try CallerDrivenConnection.connect(location)
                } catch where Self.meansUnreachable(error) {
                    // The server cannot be reached, or went away during the
                    // handshake (down, restarting): say so now. The pool could not
                    // do better, and would first wait for its circuit breaker (a
                    // minute). The next statement tries to connect again.
                    release(nil)
                    throw error
                } catch {
                    // The server refused it (too many connections, …) or TLS
                    // failed: the pool answers for it from now on (and says what failed).
                    state.withLock { $0 = State(enabled: false) }
                    return nil
                }
            }
            do {
                let result = try connection.rows(statement)
                release(connection)
                return result
            } catch {
                if !connection.connection.isClosed, !connection.pump.isBroken, Self.leavesConnectionUsable(error) {
                    release(connection)
                } else {
                    connection.close()
                    release(nil)
                }
                throw error
            }
        }

        /// Puts the connection back; one `close` ended meanwhile is closed (on its thread).
        private func release(_ connection: CallerDrivenConnection?) {
            let closed = state.withLock { state in
                state.busy = false
                guard state.enabled else { return connection }
                state.connection = connection
                return nil
            }
            closed?.close()
        }

        /// Ends it unless a statement holds it, from any thread.
        func close() {
            let connection = state.withLock { state in
                defer { state.connection = nil; state.enabled = false }
                return state.busy ? nil : state.connection
            }
            connection?.close()
        }

        /// Whether a connect failed for want of a server: the socket's
        /// connect (refused, timed out), or the connection closed or failed
        /// on the network before the handshake ended (not TLS: the pool,
        /// which sets TLS up its own way, may still get through).
        static func meansUnreachable(_ error: any Error) -> Bool {
            if error is IOError { return true }
            if case PostgresError.connectionClosed = error { return true }
            guard let error = error as? PSQLError, error.serverInfo == nil else { return false }
            if error.code == .connectionError {
                return error.underlying.map { $0 is IOError || $0 is ChannelError } ?? true
            }
            return [.serverClosedConnection, .clientClosedConnection, .uncleanShutdown].contains(error.code)
        }

        /// Whether a connection is still good after `error`: only after an
        /// error of the statement itself (a server error that is not about
        /// the connection: SQLSTATE classes 08, connection exception, and
        /// 57P, operator intervention such as a terminated backend or a
        /// shutdown). A connection the server is closing may report its
        /// error before it reads as closed.
        static func leavesConnectionUsable(_ error: any Error) -> Bool {
            guard let state = PostgresBackend.serverError(error)?.state else { return false }
            return !state.hasPrefix("08") && !state.hasPrefix("57P")
        }
    }

    /// The secret page tokens are signed with, read when the database opened.
    public func tokenSecret() async throws -> [UInt8] { pageTokenSecret.withLock { $0 } }

    // MARK: Running statements

    /// Runs one statement on a pooled connection and returns its rows.
    func rows(_ doing: String, _ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            return try await client.query(query, logger: Self.logger).collect()
        } catch {
            throw Self.keepError(error, doing: doing, location: location)
        }
    }

    /// Runs `body` in a transaction on one pooled connection. A transaction
    /// PostgreSQL aborted for a serialization failure or a deadlock is run
    /// again (a few times), as PostgreSQL's documentation asks of clients.
    func transaction<T: Sendable>(_ doing: String,
                                  _ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await client.withConnection { connection in
                    try await connection.withTransaction(logger: Self.logger) { try await body($0) }
                }
            } catch {
                let mapped = Self.keepError(error, doing: doing, location: location)
                if mapped.details["retry"] == "transaction", attempt < Self.transactionAttempts {
                    attempt += 1
                    continue
                }
                throw mapped
            }
        }
    }

    static let transactionAttempts = 8

    // MARK: Configuration

    /// A connection to `location`; over `channel`, one already connected to
    /// it, whose TLS checks the certificate against the URL's host name as a
    /// connection the driver opens itself does.
    static func connectionConfiguration(_ location: PostgresLocation, over channel: (any Channel)? = nil) throws
        -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS = switch location.tls {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration: PostgresConnection.Configuration
        if let channel {
            configuration = PostgresConnection.Configuration(establishedChannel: channel, tls: tls, username: location.user,
                                                             password: location.password, database: location.database)
            if !location.host.isIPAddress { configuration.options.tlsServerName = location.host }
        } else {
            configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                             password: location.password, database: location.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(Int64(location.connectTimeoutSeconds))
        configuration.options.additionalStartupParameters = startupParameters(location)
        return configuration
    }

    static func clientConfiguration(_ location: PostgresLocation) throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = switch location.tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(host: location.host, port: location.port,
                                                         username: location.user, password: location.password,
                                                         database: location.database, tls: tls)
        configuration.options.connectTimeout = .seconds(location.connectTimeoutSeconds)
        configuration.options.additionalStartupParameters = startupParameters(location)
        if location.readOnly {
            configuration.options.additionalStartupParameters.append(("default_transaction_read_only", "on"))
        }
        configuration.options.maximumConnections = location.poolSize
        // One connection stays open however long the process idles, so that
        // a one-at-a-time client arms no idle timer around each statement.
        configuration.options.minimumConnections = 1
        if !location.keepsIdleConnectionsAlive { configuration.options.keepAliveBehavior = nil }
        return configuration
    }

    /// Every connection works in Keep's schema, and names itself in `pg_stat_activity`.
    static func startupParameters(_ location: PostgresLocation) -> [(String, String)] {
        var parameters = [("application_name", location.applicationName)]
        if let schema = location.schema { parameters.append(("search_path", schema)) }
        return parameters
    }

    // MARK: Errors

    /// Maps a driver or server error to `KeepError`: connection problems are
    /// `unavailable` and say what to check; a unique violation is
    /// `conflict`; serialization failures and deadlocks are `unavailable`
    /// with `retry: transaction` (`transaction` runs them again). The
    /// password never appears: messages name `location.redacted`.
    static func keepError(_ error: any Error, doing: String, location: PostgresLocation) -> KeepError {
        if let error = error as? KeepError { return error }
        if let error = error as? PostgresTransactionError {
            let cause = error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError
            return keepError(cause ?? KeepError(.internal, "a transaction failed without a cause"), doing: doing,
                             location: location)
        }
        let server = "PostgreSQL at \(location.host):\(location.port)"
        if let (state, message) = serverError(error) {
            switch state {
            case "23505":
                return KeepError(.conflict, "could not \(doing): the row already exists (\(message))")
            case "40001", "40P01":
                return KeepError(.unavailable, "could not \(doing): it conflicted with a concurrent transaction (\(message)); try again",
                                 details: ["retry": "transaction"])
            case "28P01", "28000":
                return KeepError(.unavailable, "could not \(doing): \(server) refused user '\(location.user)' (\(message)); check the user name and password in the URL, and that pg_hba.conf lets this host in",
                                 details: ["reason": "credentials"])
            case "3D000":
                return KeepError(.unavailable, "could not \(doing): \(server) has no database '\(location.database)'; create it (createdb \(location.database)) or name another in the URL",
                                 details: ["reason": "no_database"])
            case "42501":
                return KeepError(.forbidden, "could not \(doing): user '\(location.user)' lacks a privilege (\(message)); grant it, or connect as the owner of Keep's tables")
            case "25006":
                return KeepError(.forbidden, "could not \(doing): the database is read-only (\(message))")
            case "53300", "53000", "57P01", "57P02", "57P03":
                return KeepError(.unavailable, "could not \(doing): \(server) cannot serve it now (\(message)); try again")
            case _ where state.hasPrefix("08"):
                return KeepError(.unavailable, "could not \(doing): the connection to \(server) failed (\(message)); try again")
            default:
                return KeepError(.internal, "could not \(doing): PostgreSQL error \(state): \(message)")
            }
        }
        // The kept connection's prepared queries report connection and protocol failures as `PostgresError`.
        if let error = error as? PostgresError {
            switch error {
            case .connectionClosed:
                return unreachable(doing, server, cause: " (the connection closed)")
            case .protocol(let message) where message.hasPrefix("Unexpected connection close"):
                return unreachable(doing, server, cause: " (the connection closed)")
            case .protocol(let message):
                return KeepError(.internal, "could not \(doing): PostgreSQL protocol error: \(message)")
            case .server(let message):
                return KeepError(.internal, "could not \(doing): PostgreSQL error: \(message)")
            }
        }
        if let error = error as? PSQLError {
            switch error.code {
            case .sslUnsupported:
                return KeepError(.unavailable, "could not \(doing): \(server) does not offer TLS, and the URL asks for sslmode=require")
            case .authMechanismRequiresPassword:
                return KeepError(.unavailable, "could not \(doing): \(server) asks user '\(location.user)' for a password; give it in the URL (postgres://USER:PASSWORD@HOST/DB)",
                                 details: ["reason": "credentials"])
            case .unsupportedAuthMechanism, .saslError:
                return KeepError(.unavailable, "could not \(doing): \(server) asks for an authentication Keep cannot do, or it failed (\(error.code)); use password (scram-sha-256 or md5) authentication for this user",
                                 details: ["reason": "credentials"])
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
                 .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
                let closed: [PSQLError.Code] = [.serverClosedConnection, .clientClosedConnection, .uncleanShutdown]
                return unreachable(doing, server, cause: error.underlying.map { " (\(shortDescription($0)))" }
                                   ?? (closed.contains(error.code) ? " (the connection closed)" : ""))
            default:
                return KeepError(.internal, "could not \(doing): \(error.code)")
            }
        }
        if error is PostgresDecodingError {
            return KeepError(.internal, "could not \(doing): a stored value has an unexpected type (\(error)); the schema may have been changed by hand")
        }
        // The pool's own errors (its circuit breaker after failed connects), NIO channel errors.
        return KeepError(.unavailable, "could not \(doing): could not reach \(server) (\(shortDescription(error))); check that the server is running and accepts TCP connections there",
                         details: ["reason": "unreachable"])
    }

    /// A connection that could not be made or broke.
    private static func unreachable(_ doing: String, _ server: String, cause: String) -> KeepError {
        KeepError(.unavailable, "could not \(doing): could not reach \(server)\(cause); check that the server is running and accepts TCP connections there (host and port in the URL, listen_addresses, firewall)",
                  details: ["reason": "unreachable"])
    }

    /// The SQLSTATE and message of an error the server sent: as the driver's
    /// async API reports it (`PSQLError`) or its future-based prepared
    /// queries do (`PostgresError.server`, on the kept connection).
    static func serverError(_ error: any Error) -> (state: String, message: String)? {
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            return (state, error.serverInfo?[.message] ?? "no message")
        }
        if case PostgresError.server(let error) = error, let state = error.fields[.sqlState] {
            return (state, error.fields[.message] ?? "no message")
        }
        return nil
    }

    /// An underlying network error, as a person reads it ("connection refused").
    private static func shortDescription(_ error: any Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode)).lowercased()
        }
        if let error = error as? ChannelError, case .connectTimeout(let amount) = error {
            return "no answer within \(amount.nanoseconds / 1_000_000_000) s: connect timeout"
        }
        let text = "\(error)"
        if text.contains("connectionCreationCircuitBreakerTripped") {
            return "connections kept failing"
        }
        if let refused = error as? NIOConnectionError {
            if let first = refused.connectionErrors.first { return shortDescription(first.error) }
            if refused.dnsAError != nil || refused.dnsAAAAError != nil { return "the host name does not resolve" }
        }
        return text
    }
}
