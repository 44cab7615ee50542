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

    /// The connection a backend keeps for one-row statements: when the server
    /// closes it, statements go on, on the pool.
    @Test(.enabled(if: url != nil, "needs KEEP_TEST_POSTGRES_URL"))
    func statementsGoOnWhenTheServerClosesTheKeptConnection() async throws {
        let name = "keep_kept_" + String(UInt32.random(in: .min ... .max), radix: 16)
        let location = try PostgresLocation(url: BackendKind.freshPostgresURL() + "&application_name=\(name)")
        let backend = try await PostgresBackend.open(location)
        let now = TestClock().now
        let session = Session(id: try ResourceID("kept00000001"), owner: "ana", title: "Kept", description: nil, content: "{}",
                              hash: ContentHash(of: "{}"), version: 1, createdAt: now, updatedAt: now)
        try await backend.insertSession(session)
        #expect(try await backend.session(id: session.id, owner: "ana")?.title == "Kept")

        // Another connection ends the one that ran the one-row statements.
        var admin = try PostgresLocation(url: try #require(Self.url))
        admin.applicationName = "keep_admin"
        let configuration = PostgresConnection.Configuration(host: admin.host, port: admin.port, username: admin.user,
                                                             password: admin.password, database: admin.database, tls: .disable)
        let logger = Logger(label: "test")
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        defer { Task { try? await connection.close() } }
        let ended = try await connection.query("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = \(name) AND query LIKE '%FROM sessions WHERE owner%'
            """, logger: logger).collect()
        #expect(ended.count == 1, "one connection ran the one-row statements")
        func gone() async throws -> Bool {
            try await connection.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = \(name) AND query LIKE '%FROM sessions WHERE owner%'",
                                       logger: logger).collect().first?.decode(Int.self) == 0
        }
        var waited = 0
        while try await !gone(), waited < 3000 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        // A statement sent before the client saw the close may fail as on the
        // pool (`unavailable`); then the kept connection is dropped for good.
        var failures = 0
        while (try? await backend.session(id: session.id, owner: "ana")) == nil, failures < 1000 {
            failures += 1
        }
        #expect(failures <= 1, "at most the statement that met the close fails")
        for _ in 0 ..< 20 {
            #expect(try await backend.session(id: session.id, owner: "ana")?.title == "Kept")
        }
        await backend.close()
    }
}
