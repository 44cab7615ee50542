import Foundation
import KeepCore
import KeepMigrate
import KeepPostgres
import KeepSQLite
import KeepStore
import KeepTestSupport
import Synchronization
import Testing

/// A database and a migration folder in a fresh temporary directory; on
/// PostgreSQL, the database is a fresh schema of the test server.
final class MigrationFixture: @unchecked Sendable {
    let directory: String
    let migrations: String
    let databasePath: String
    let backend: any BackendStorage
    let clock = TestClock()

    init(_ kind: BackendKind = .sqlite) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("keep-migrate-\(UUID().uuidString)").path
        migrations = directory + "/migrations"
        try FileManager.default.createDirectory(atPath: migrations, withIntermediateDirectories: true)
        databasePath = directory + "/keep.sqlite"
        backend = try await kind.makeStorage(path: databasePath)
    }

    /// The same database opened as dry runs open it: nothing can be written through it.
    func readOnlyBackend() async throws -> any MigrationStorage {
        if let postgres = backend as? PostgresBackend {
            var location = postgres.location
            location.readOnly = true
            return try await PostgresBackend.open(location)
        }
        return try SQLiteBackend(path: databasePath, readOnly: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    var sessions: SessionService { SessionService(storage: backend, clock: clock.clock) }
    var snapshots: SnapshotService { SnapshotService(storage: backend, clock: clock.clock) }

    func write(_ fileName: String, _ source: String) throws {
        try source.write(toFile: migrations + "/" + fileName, atomically: true, encoding: .utf8)
    }

    /// The standard test migration: renames a module in every dashboard.
    /// Renames a module, and counts how often each document it changes went
    /// through `up` (`runs`), so that a document migrated twice shows.
    func writeRename(_ fileName: String = "0001_rename_module.lua", target: String = "sessions") throws {
        try write(fileName, """
            return {
              description = "rename module WellLogs to WellLogViewer",
              target = "\(target)",
              up = function(doc)
                local renamed = false
                for _, d in ipairs(doc.data.dashboards or {}) do
                  if d.module == "WellLogs" then d.module = "WellLogViewer"; renamed = true end
                end
                if renamed then doc.data.runs = (doc.data.runs or 0) + 1 end
              end,
            }
            """)
    }

    func runner(storage: (any MigrationStorage)? = nil, holder: String = "test-runner",
                configure: (inout MigrationRunner.Options) -> Void = { _ in }) throws -> MigrationRunner {
        var options = MigrationRunner.Options()
        options.leaseMilliseconds = 10_000
        // Interrupts are process-wide, and other suites request them in parallel.
        options.budget.interruptible = false
        configure(&options)
        return MigrationRunner(storage: storage ?? backend, directory: try MigrationDirectory(path: migrations),
                               clock: clock.clock, holder: holder, options: options)
    }

    /// Creates `count` sessions for two users; every third uses a module the rename migration leaves alone.
    @discardableResult
    func seedSessions(_ count: Int) async throws -> [Session] {
        var created: [Session] = []
        for index in 0 ..< count {
            let module = index % 3 == 2 ? "Map" : "WellLogs"
            let content = "{\"dashboards\":[{\"module\":\"\(module)\",\"state\":{\"zoom\":\(index)}}],\"version\":1}"
            created.append(try await sessions.create(as: index % 2 == 0 ? "alice" : "bob", title: "Session \(index)",
                                                     content: content))
        }
        return created
    }

    /// Every session and snapshot as stored, by id.
    func dump() async throws -> [String] {
        var rows: [String] = []
        for kind in [DocumentKind.session, .snapshot] {
            var after: ResourceID?
            while true {
                let batch = try await backend.migrationDocuments(kind, after: after, limit: 1000, byteLimit: .max)
                guard let last = batch.last else { break }
                rows += batch.map { "\($0.kind) \($0.id) \($0.title) \($0.description ?? "-") \($0.hash) \($0.content)" }
                after = last.id
            }
        }
        return rows
    }

    func session(_ id: ResourceID, owner: UserID) async throws -> Session {
        try await sessions.get(as: owner, id: id)
    }

    /// Storage over this database where a concurrent writer sets `target`'s
    /// content to `content(commit)` just before each batch commit (numbered
    /// from 1) for which it gives one.
    func editing(_ target: Session, before content: @escaping @Sendable (_ commit: Int) -> String?) -> InterferingStorage {
        let interfering = InterferingStorage(backend)
        let sessions = sessions
        interfering.beforeCommit = { _, commit in
            guard let edited = content(commit) else { return }
            _ = try await sessions.update(as: target.owner, id: target.id, SessionChanges(content: edited))
        }
        return interfering
    }
}

/// A storage that forwards to a backend, with hooks to crash or interfere at chosen points.
final class InterferingStorage: MigrationStorage, @unchecked Sendable {
    let base: any MigrationStorage
    private let state = Mutex<(commits: Int, failAtCommit: Int?)>((0, nil))
    /// Runs before each batch commit, numbered from 1 (a concurrent writer's edits).
    var beforeCommit: @Sendable (_ batch: MigrationBatch, _ commit: Int) async throws -> Void = { _, _ in }
    /// Runs before the lock is taken (another runner getting there first).
    var beforeAcquire: @Sendable () async throws -> Void = {}

    init(_ base: any MigrationStorage, failAtCommit: Int? = nil) {
        self.base = base
        state.withLock { $0.failAtCommit = failAtCommit }
    }

    var commits: Int { state.withLock { $0.commits } }

    func migrationLedger() async throws -> [MigrationRecord] { try await base.migrationLedger() }
    func migrationFailures(migration: String) async throws -> [MigrationFailure] {
        try await base.migrationFailures(migration: migration)
    }
    func migrationLock() async throws -> MigrationLock? { try await base.migrationLock() }
    func acquireMigrationLock(holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> MigrationLock? {
        try await beforeAcquire()
        return try await base.acquireMigrationLock(holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
    }
    func renewMigrationLock(holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Bool {
        try await base.renewMigrationLock(holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
    }
    func releaseMigrationLock(holder: String) async throws {
        // A crashed runner never releases its lock.
        if crashed { return }
        try await base.releaseMigrationLock(holder: holder)
    }

    func breakMigrationLock() async throws -> MigrationLock? { try await base.breakMigrationLock() }
    func saveMigrationRecord(_ record: MigrationRecord, startingOver: Bool, holder: String, now: Timestamp,
                             leaseMilliseconds: Int64) async throws {
        if crashed { throw KeepError(.unavailable, "simulated crash") }
        try await base.saveMigrationRecord(record, startingOver: startingOver, holder: holder, now: now,
                                           leaseMilliseconds: leaseMilliseconds)
    }
    func migrationDocumentCount(_ kind: DocumentKind) async throws -> Int64 { try await base.migrationDocumentCount(kind) }
    func migrationDocuments(_ kind: DocumentKind, after: ResourceID?, limit: Int, byteLimit: Int) async throws
        -> [MigrationDocument] {
        try await base.migrationDocuments(kind, after: after, limit: limit, byteLimit: byteLimit)
    }
    func commitMigrationBatch(_ batch: MigrationBatch, holder: String, now: Timestamp, leaseMilliseconds: Int64)
        async throws -> MigrationBatchOutcome {
        let (shouldFail, commit) = state.withLock { state -> (Bool, Int) in
            state.commits += 1
            return (state.failAtCommit == state.commits, state.commits)
        }
        if shouldFail { throw KeepError(.unavailable, "simulated crash before commit \(commit)") }
        try await beforeCommit(batch, commit)
        return try await base.commitMigrationBatch(batch, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
    }
    func migrationBackups(migration: String, limit: Int) async throws -> [MigrationBackup] {
        try await base.migrationBackups(migration: migration, limit: limit)
    }
    func commitRollbackBatch(migration: String, _ backups: [MigrationBackup], holder: String, now: Timestamp,
                             leaseMilliseconds: Int64) async throws -> RollbackTally {
        try await base.commitRollbackBatch(migration: migration, backups, holder: holder, now: now,
                                           leaseMilliseconds: leaseMilliseconds)
    }

    /// Whether the simulated crash happened.
    var crashed: Bool { state.withLock { state in state.failAtCommit.map { state.commits >= $0 } ?? false } }
}

/// Expects `body` (run with `onThread`) to throw a `KeepError` with `code`; returns it.
@discardableResult
func expectKeepError<R: Sendable>(_ code: KeepError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                                  _ body: @escaping @Sendable () throws -> R) async -> KeepError? {
    let error = await #expect(throws: KeepError.self, sourceLocation: sourceLocation) { try await onThread(body) }
    #expect(error?.code == code, "\(error.map(String.init(describing:)) ?? "no error")", sourceLocation: sourceLocation)
    return error
}
