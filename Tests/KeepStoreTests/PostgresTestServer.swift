import Foundation
import KeepCore
import KeepPostgres
import KeepStore
import Testing

/// The PostgreSQL server the suite runs against, from `KEEP_TEST_POSTGRES_URL`.
/// Each test gets a schema of its own in it (`?schema=`), as each SQLite test
/// gets a file of its own.
@Suite struct PostgresTestServer {
    static let url: String? = ProcessInfo.processInfo.environment["KEEP_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// A backend on a new, empty schema; a small pool (tests run many backends at once).
    static func freshBackend() async throws -> PostgresBackend {
        let url = try #require(url, "KEEP_TEST_POSTGRES_URL is not set")
        let schema = "keep_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let separator = url.contains("?") ? "&" : "?"
        return try await PostgresBackend.open(try PostgresLocation(url: url + separator + "schema=\(schema)&pool_size=4"))
    }

    @Test(.enabled(if: url != nil, "KEEP_TEST_POSTGRES_URL is not set, so the PostgreSQL variants of the conformance suite did not run; scripts/test.sh starts a throwaway server and sets it"))
    func theServerIsConfigured() async throws {
        let backend = try await Self.freshBackend()
        #expect(try await backend.tokenSecret().count == 32)
        await backend.close()
    }
}
