import Foundation
import KeepCore
import KeepPostgres
import KeepStore
import KeepTestSupport
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
}
