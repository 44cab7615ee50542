import Foundation
import GRDB
import KeepCore
import KeepSQLite
import KeepStore
import KeepTestSupport
import Synchronization
import Testing

/// What only the SQLite backend does: its file, its schema versions, its
/// write-ahead log, its read-only modes. What every backend does is in
/// KeepStoreTests' conformance suite.
@Suite struct SQLiteBackendTests {
    let folder: URL
    let path: String

    init() throws {
        folder = try TemporaryDirectory.make("keep-sqlite")
        path = folder.appendingPathComponent("keep.sqlite").path
    }

    func write(_ backend: SQLiteBackend, title: String = "t") async throws -> Session {
        try await SessionService(storage: backend).create(as: "ana", title: title, content: "{}")
    }

    @Test func pathsThatCannotNameADatabaseFileAreRefusedWithWhatIsWrong() throws {
        let cases: [(String, String)] = [
            ("", "the database path is empty"),
            (folder.path + "/missing/keep.sqlite", "does not exist; create it first"),
            (folder.path, "is a folder; the database is a file"),
        ]
        for (path, message) in cases {
            do {
                _ = try SQLiteBackend(path: path)
                Issue.record("\(path) was opened")
            } catch let error as KeepError {
                #expect(error.code == .invalid && error.message.contains(message), "\(path): \(error.message)")
            }
        }
    }

    @Test func readOnlyNeverCreatesAFile() throws {
        expectErrorNow(.notFound) { try SQLiteBackend(path: path, readOnly: true) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func closingFoldsTheWriteAheadLogIntoTheFile() async throws {
        let backend = try SQLiteBackend(path: path)
        _ = try await write(backend)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        try backend.close()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        let reopened = try SQLiteBackend(path: path, readOnly: true)
        #expect(try await SessionService(storage: reopened).list(as: "ana", SessionQuery()).items.count == 1)
        try reopened.close()
    }

    @Test func thePageTokenSecretIsStoredOnceAndKept() async throws {
        let first = try SQLiteBackend(path: path)
        let secret = try await first.tokenSecret()
        try first.close()
        let second = try SQLiteBackend(path: path)
        #expect(try await second.tokenSecret() == secret)
        #expect(secret.count >= 32)
        try second.close()
    }

    /// Reads after an upgrade see the tables it added, although the reading
    /// connection looked at the schema before the upgrade.
    @Test func readsSeeTheTablesAnUpgradeAdded() async throws {
        try SQLiteBackend(path: path).close()
        // As a database from before the content migration ledger (v3).
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: """
                DROP TABLE migrations; DROP TABLE migration_backups; DROP TABLE migration_failures; DROP TABLE migration_lock;
                DELETE FROM grdb_migrations WHERE identifier IN ('v3: content migration ledger', 'v4: page token secret');
                """)
        }
        let backend = try SQLiteBackend(path: path)
        #expect(try await backend.migrationFailures(migration: "0001").isEmpty)
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO migration_failures (migration, kind, id, message) VALUES ('0001', 'session', 'abcdefgh1234', 'no')")
        }
        #expect(try await backend.migrationFailures(migration: "0001").map(\.message) == ["no"])

        // A table another process creates while this one runs (a newer Keep upgrading the file).
        try await DatabaseQueue(path: path).write { db in try db.execute(sql: "ALTER TABLE migration_failures RENAME TO kept_aside") }
        #expect(try await backend.migrationFailures(migration: "0001").isEmpty)
        try await DatabaseQueue(path: path).write { db in try db.execute(sql: "ALTER TABLE kept_aside RENAME TO migration_failures") }
        #expect(try await backend.migrationFailures(migration: "0001").map(\.message) == ["no"])
        try backend.close()
    }

    @Test func aSchemaFromANewerKeepIsRefusedAndLeftAlone() async throws {
        try SQLiteBackend(path: path).close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
        }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            _ = try SQLiteBackend(path: path)
            Issue.record("a newer schema was opened")
        } catch let error as KeepError {
            #expect(error.code == .invalid)
            #expect(error.message.contains("a newer Keep set it up"), "\(error.message)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "the file is unchanged")
    }

    @Test func anotherApplicationsDatabaseIsNotTakenOver() async throws {
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY)") }
        try queue.close()
        do {
            _ = try SQLiteBackend(path: path)
            Issue.record("a foreign database was opened")
        } catch let error as KeepError {
            #expect(error.message.contains("not a Keep database (it holds tables such as invoices)"), "\(error.message)")
        }
    }

    @Test func aFileWithoutWritePermissionOpensForReadingAndRefusesWrites() async throws {
        let backend = try SQLiteBackend(path: path)
        let session = try await write(backend)
        try backend.close()
        #expect(chmod(path, 0o444) == 0)
        defer { chmod(path, 0o644) }
        let readOnly = try SQLiteBackend(path: path)
        let service = SessionService(storage: readOnly)
        #expect(try await service.get(as: "ana", id: session.id).title == "t")
        await expectError(.forbidden) { try await write(readOnly, title: "again") }
        try readOnly.close()
    }

    /// The visit policy is Lua and may run up to its budget: while it decides,
    /// no write lock is held, so another connection writes at once (a busy
    /// timeout of zero would fail if it were held).
    @Test func theVisitPolicyRunsWithoutTheWriteLock() async throws {
        let backend = try SQLiteBackend(path: path)
        let witness = WriteWitness(path: path)
        let snapshots = SnapshotService(storage: backend, visits: witness)
        let snapshot = try await snapshots.create(as: "ana", title: "shared", content: "{}")
        _ = try await snapshots.get(as: "bob", id: snapshot.id)  // the first visit: no policy asked
        _ = try await snapshots.get(as: "bob", id: snapshot.id)
        #expect(witness.outcomes == ["wrote"], "\(witness.outcomes)")
        try backend.close()
    }
}

/// A visit policy that, while deciding, writes through a connection of its
/// own that refuses to wait for the write lock.
private final class WriteWitness: VisitPolicy, Sendable {
    let path: String
    private let seen = Mutex<[String]>([])
    init(path: String) { self.path = path }
    var outcomes: [String] { seen.withLock { $0 } }

    func shouldCount(_ log: AccessLog, now: Timestamp) -> Bool {
        let outcome: String
        do {
            var configuration = Configuration()
            configuration.busyMode = .immediateError
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.write { try $0.execute(sql: "INSERT OR REPLACE INTO keep_meta (key, value) VALUES ('witness', x'01')") }
            try queue.close()
            outcome = "wrote"
        } catch {
            outcome = "\(error)"
        }
        seen.withLock { $0.append(outcome) }
        return true
    }
}
