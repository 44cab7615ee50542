import Foundation
import KeepCore
import KeepPostgres
import KeepSQLite
import KeepStore
import Synchronization

/// The backends the conformance suite runs against: SQLite always, and
/// PostgreSQL when `KEEP_TEST_POSTGRES_URL` names a server (scripts/test.sh
/// starts a throwaway one and always sets it). Without it the PostgreSQL
/// variants do not run, and `PostgresTestServer.theServerIsConfigured`
/// shows as skipped with the reason.
enum BackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    var description: String { rawValue }

    /// The backends this run tests.
    static var allCases: [BackendKind] { PostgresTestServer.url == nil ? [.sqlite] : [.sqlite, .postgres] }

    func makeStorage() async throws -> any KeepStorage {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keep-store-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return try SQLiteBackend(path: directory.appendingPathComponent("keep.sqlite").path)
        case .postgres:
            return try await PostgresTestServer.freshBackend()
        }
    }
}

/// A clock that starts at a fixed instant and moves 1 ms each time it is read.
final class SteppingClock: Sendable {
    private let current: Mutex<Int64>
    init(start: Int64 = 1_795_761_694_123) { current = Mutex(start) }
    /// Moves the clock forward.
    func advance(milliseconds: Int64) { current.withLock { $0 += milliseconds } }

    var clock: KeepClock {
        KeepClock { [self] in
            Timestamp(millisecondsSinceEpoch: current.withLock { value in
                value += 1
                return value
            })
        }
    }
}

func makeService(_ kind: BackendKind, clock: SteppingClock = SteppingClock()) async throws -> SessionService {
    SessionService(storage: try await kind.makeStorage(), clock: clock.clock)
}

import Testing

/// Expects `body` to throw a `KeepError` with `code`.
func expectError<R>(_ code: KeepError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                    _ body: () async throws -> R) async {
    let error = await #expect(throws: KeepError.self, sourceLocation: sourceLocation) { try await body() }
    #expect(error?.code == code, "\(error.map(String.init(describing:)) ?? "no error")", sourceLocation: sourceLocation)
}

func expectErrorNow<R>(_ code: KeepError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () throws -> R) {
    let error = #expect(throws: KeepError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, "\(error.map(String.init(describing:)) ?? "no error")", sourceLocation: sourceLocation)
}
