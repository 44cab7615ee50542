import Foundation
import KeepCore
import KeepPostgres
import KeepStore
import KeepTestSupport
import Logging
import PostgresNIO
import Testing

/// The PostgreSQL server the suite runs against, from `KEEP_TEST_POSTGRES_URL`.
/// Each test gets a schema of its own in it (`?schema=`), as each SQLite test
/// gets a file of its own.
@Suite struct PostgresTestServer {
    static let url = BackendKind.postgresURL

    static func freshBackend() async throws -> PostgresBackend {
        try await PostgresBackend.open(try PostgresLocation(url: BackendKind.freshPostgresURL()))
    }

    @Test(.enabled(if: url != nil, "KEEP_TEST_POSTGRES_URL is not set, so the PostgreSQL variants of the conformance suite did not run; scripts/test.sh starts a throwaway server and sets it"))
    func theServerIsConfigured() async throws {
        let backend = try await Self.freshBackend()
        #expect(try await backend.tokenSecret().count == 32)
        await backend.close()
    }

    /// The connection a backend keeps for the one-row statements of a
    /// caller that runs them one at a time from its own thread (`blocking`,
    /// as `keep run` does): those statements run on it, and when the server
    /// closes it, they go on, on a new one.
    @Test(.enabled(if: url != nil, "needs KEEP_TEST_POSTGRES_URL"))
    func statementsGoOnWhenTheServerClosesTheKeptConnection() async throws {
        let name = "keep_kept_" + String(UInt32.random(in: .min ... .max), radix: 16)
        let location = try PostgresLocation(url: BackendKind.freshPostgresURL() + "&application_name=\(name)")
        let backend = try await PostgresBackend.open(location)
        let now = TestClock().now
        let session = Session(id: try ResourceID("kept00000001"), owner: "ana", title: "Kept", description: nil, content: "{}",
                              hash: ContentHash(of: "{}"), version: 1, createdAt: now, updatedAt: now)
        let connection = try await Self.adminConnection()
        defer { Task { try? await connection.close() } }
        @Sendable func ranStatements() async throws -> [Int] { try await Self.backends(name, lastRunning: Self.read, on: connection) }

        struct Seen: Sendable {
            var kept: [Int] = [], afterFive: [Int] = [], replacement: [Int] = []
            var reads: [String?] = [], failures = 0
        }
        // Everything on one thread of its own, as a script runs: the kept
        // connection serves the thread that made it.
        let logger = Logger(label: "test")
        let seen = try await onThread { try blocking {
            var seen = Seen()
            try await backend.insertSession(session)
            seen.reads.append(try await backend.session(id: session.id, owner: "ana")?.title)
            seen.kept = try await ranStatements()
            for _ in 0 ..< 5 { seen.reads.append(try await backend.session(id: session.id, owner: "ana")?.title) }
            seen.afterFive = try await ranStatements()

            // Another connection ends it.
            _ = try await connection.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(\(seen.kept))",
                                           logger: logger).collect()
            var waited = 0
            while try await ranStatements() == seen.kept, waited < 3000 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            // The server ended the connection before this read (its backend is
            // gone): the read finds it closed and makes a new one, so none fails.
            while (try? await backend.session(id: session.id, owner: "ana")) == nil, seen.failures < 1000 {
                seen.failures += 1
            }
            for _ in 0 ..< 20 { seen.reads.append(try await backend.session(id: session.id, owner: "ana")?.title) }
            seen.replacement = try await ranStatements()
            return seen
        } }
        #expect(seen.kept.count == 1, "one connection ran the one-row statements: \(seen.kept)")
        #expect(seen.afterFive == seen.kept, "the same connection ran the next ones")
        #expect(seen.failures == 0, "a connection the server closed while idle is replaced before a statement meets it")
        #expect(seen.reads.count == 26 && seen.reads.allSatisfy { $0 == "Kept" })
        #expect(seen.replacement.count == 1 && seen.replacement != seen.kept, "a new connection took over: \(seen.replacement)")

        // Outside `blocking` (the HTTP service, a test's task), statements take the pool.
        #expect(try await backend.session(id: session.id, owner: "ana")?.title == "Kept")
        let both = try await ranStatements()
        let replacement = try #require(seen.replacement.first)
        #expect(both.count == 2 && both.contains(replacement), "a pooled connection ran it: \(both)")
        await backend.close()
    }

    /// A statement the server refuses on the kept connection fails with
    /// Keep's error for it (a unique violation is `conflict`), and the
    /// connection stays: the next statements run on it.
    @Test(.enabled(if: url != nil, "needs KEEP_TEST_POSTGRES_URL"))
    func aStatementTheServerRefusesOnTheKeptConnectionFailsAsOnThePool() async throws {
        let name = "keep_kept_" + String(UInt32.random(in: .min ... .max), radix: 16)
        let backend = try await PostgresBackend.open(try PostgresLocation(url: BackendKind.freshPostgresURL() + "&application_name=\(name)"))
        let now = TestClock().now
        let session = Session(id: try ResourceID("kept00000002"), owner: "ana", title: "Kept", description: nil, content: "{}",
                              hash: ContentHash(of: "{}"), version: 1, createdAt: now, updatedAt: now)
        let connection = try await Self.adminConnection()
        defer { Task { try? await connection.close() } }

        struct Seen: Sendable {
            var before: [Int] = [], refused: [Int] = [], after: [Int] = []
            var failure: KeepError?
            var read: String?
        }
        let seen = try await onThread { try blocking {
            var seen = Seen()
            try await backend.insertSession(session)
            _ = try await backend.session(id: session.id, owner: "ana")
            seen.before = try await Self.backends(name, lastRunning: Self.read, on: connection)
            do {
                try await backend.insertSession(session)
            } catch let error as KeepError {
                seen.failure = error
            }
            seen.refused = try await Self.backends(name, lastRunning: "INSERT INTO sessions%", on: connection)
            seen.read = try await backend.session(id: session.id, owner: "ana")?.title
            seen.after = try await Self.backends(name, lastRunning: Self.read, on: connection)
            return seen
        } }
        #expect(seen.failure?.code == .conflict, "\(String(describing: seen.failure))")
        #expect(seen.failure?.message.contains("already exists") == true)
        #expect(seen.read == "Kept")
        #expect(seen.before.count == 1 && seen.refused == seen.before && seen.after == seen.before,
                "the kept connection ran them all: \(seen.before) \(seen.refused) \(seen.after)")
        await backend.close()
    }

    /// When the server goes away under a script, a statement that finds
    /// the kept connection closed fails at once with what to check — not
    /// after the pool's circuit breaker (a minute), whose message is "connections
    /// kept failing" — whether the server closes new connections (shutting
    /// down) or refuses them (gone); once it is back, the next statement
    /// connects again.
    @Test(.enabled(if: url != nil, "needs KEEP_TEST_POSTGRES_URL"))
    func aServerThatWentAwayAnswersAtOnceAndIsUsedAgainWhenBack() async throws {
        let server = try PostgresLocation(url: BackendKind.freshPostgresURL())
        let forwarder = try TCPForwarder(to: server.port)
        defer { forwarder.stop() }
        var components = try #require(URLComponents(string: BackendKind.freshPostgresURL()))
        components.port = forwarder.port
        let backend = try await PostgresBackend.open(try PostgresLocation(url: try #require(components.string)))
        let now = TestClock().now
        let session = Session(id: try ResourceID("kept00000003"), owner: "ana", title: "Kept", description: nil, content: "{}",
                              hash: ContentHash(of: "{}"), version: 1, createdAt: now, updatedAt: now)

        struct Seen: Sendable {
            var whileClosing: KeepError?, whileGone: KeepError?
            var back: String?
        }
        let seen = try await onThread { try blocking {
            @Sendable func failedRead() async throws -> KeepError? {
                do {
                    _ = try await backend.session(id: session.id, owner: "ana")
                    return nil
                } catch let error as KeepError {
                    return error
                }
            }
            var seen = Seen()
            try await backend.insertSession(session)
            _ = try await backend.session(id: session.id, owner: "ana")
            forwarder.closeEveryConnection()
            seen.whileClosing = try await failedRead()
            forwarder.stop()
            seen.whileGone = try await failedRead()
            try forwarder.start()
            seen.back = try await backend.session(id: session.id, owner: "ana")?.title
            return seen
        } }
        let closing = try #require(seen.whileClosing, "a read while the server closes every connection fails")
        let gone = try #require(seen.whileGone, "a read while the server is gone fails")
        for failure in [closing, gone] {
            #expect(failure.code == .unavailable)
            #expect(failure.details["reason"] == .text("unreachable"))
            #expect(!failure.message.contains("kept failing"), "the pool's answer, a minute late: \(failure.message)")
        }
        #expect(closing.message.contains("(the connection closed)"), "\(closing.message)")
        #expect(gone.message.contains("(connection refused)"), "\(gone.message)")
        #expect(seen.back == "Kept")
        await backend.close()
    }

    /// A connection to the test server, outside any backend.
    static func adminConnection() async throws -> PostgresConnection {
        let admin = try PostgresLocation(url: try #require(url))
        let configuration = PostgresConnection.Configuration(host: admin.host, port: admin.port, username: admin.user,
                                                             password: admin.password, database: admin.database, tls: .disable)
        return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "test"))
    }

    /// The pattern of a read of a session by key, for `backends`.
    static let read = "%FROM sessions WHERE owner%"

    /// The backends of the connections named `name` whose last statement is `LIKE` `pattern`.
    static func backends(_ name: String, lastRunning pattern: String, on connection: PostgresConnection) async throws -> [Int] {
        try await connection.query("""
            SELECT pid FROM pg_stat_activity WHERE application_name = \(name) AND query LIKE \(pattern)
            ORDER BY pid
            """, logger: Logger(label: "test")).collect().map { try $0.decode(Int.self) }
    }
}
