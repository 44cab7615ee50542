import Foundation
import KeepCore
import KeepPostgres
import KeepSQLite
import KeepStore

/// The backends store tests run against, each a fresh, empty database:
/// SQLite always, and PostgreSQL when `KEEP_TEST_POSTGRES_URL` names a
/// server (scripts/test.sh starts a throwaway one and always sets it;
/// without it the PostgreSQL variants do not run, and
/// `PostgresTestServer.theServerIsConfigured` shows as skipped with the reason).
public enum BackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// The backends this run tests.
    public static var allCases: [BackendKind] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    public static let postgresURL: String? = ProcessInfo.processInfo.environment["KEEP_TEST_POSTGRES_URL"]
        .flatMap { $0.isEmpty ? nil : $0 }

    /// A fresh database; SQLite's file is `path` when given.
    public func makeStorage(path: String? = nil) async throws -> any BackendStorage {
        switch self {
        case .sqlite:
            try SQLiteBackend(path: path ?? TemporaryDirectory.make("keep-store").appendingPathComponent("keep.sqlite").path)
        case .postgres:
            try await PostgresBackend.open(try PostgresLocation(url: Self.freshPostgresURL()))
        }
    }

    /// The test server's URL with a new, empty schema of its own (as each
    /// SQLite test gets a file of its own) and a small pool (tests run many
    /// backends at once).
    public static func freshPostgresURL() throws -> String {
        guard let url = postgresURL else {
            throw KeepError(.unavailable, "KEEP_TEST_POSTGRES_URL is not set; scripts/test.sh starts a throwaway server and sets it")
        }
        let schema = "keep_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return url + (url.contains("?") ? "&" : "?") + "schema=\(schema)&pool_size=4"
    }
}

/// Fresh folders under the system's temporary directory.
public enum TemporaryDirectory {
    public static func make(_ prefix: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}

/// Files of this checkout that tests use as a user would: the shipped
/// policies, migrations and benchmark scripts under `scripts/`.
public enum Checkout {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static let scripts = root.appendingPathComponent("scripts")
    /// The shipped policy folder (SPEC §4's defaults as Lua).
    public static let policies = scripts.appendingPathComponent("policies")
    public static let fixtures = root.appendingPathComponent("Tests/Fixtures")
}
