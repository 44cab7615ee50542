import KeepCore
import KeepStore
import KeepTestSupport
import Synchronization
import Testing

/// `keep db copy`'s engine between every pair of backends: exact, resumable,
/// refusing to mix databases, verified.
@Suite struct DatabaseCopierTests {
    static let pairs = BackendKind.allCases.flatMap { from in BackendKind.allCases.map { (from, $0) } }

    /// A database with something in every table the services write: sessions in two
    /// scripts, a snapshot two users visited, a deleted one whose job ran, a queued job.
    static func seeded(_ kind: BackendKind) async throws -> (any BackendStorage, pageToken: String) {
        let storage = try await kind.makeStorage()
        let clock = TestClock.stepping()
        let sessions = SessionService(storage: storage, clock: clock.clock)
        let snapshots = SnapshotService(storage: storage, clock: clock.clock)
        let runner = JobRunner(storage: storage, clock: clock.clock, holder: "seed")
        for index in 0 ..< 25 {
            _ = try await sessions.create(as: index % 2 == 0 ? "ana" : "bob", title: "Brønn \(index) 井",
                                          description: index % 3 == 0 ? nil : "d\(index)",
                                          content: #"{"dashboards":[{"n":\#(index),"s":"\u00e6\"\n"}]}"#)
        }
        let kept = try await snapshots.create(as: "ana", title: "kept", content: "{}")
        let gone = try await snapshots.create(as: "ana", title: "gone", content: "{\"a\":1}")
        _ = try await snapshots.get(as: "bob", id: kept.id)
        _ = try await snapshots.get(as: "bob", id: gone.id)
        _ = try await runner.run(id: try await snapshots.delete(as: "ana", id: gone.id).id)
        _ = try await storage.enqueueJob(JobDraft(kind: .markLogsDeleted,
                                                  payload: #"{"snapshot_id":"AAAAAAAAAAAA"}"#, runAt: clock.now))
        var query = SessionQuery()
        query.pageSize = 10
        let token = try #require(try await sessions.list(as: "ana", query).nextToken)
        return (storage, token)
    }

    @Test(arguments: pairs)
    func copiesEveryTableExactlyAndPageTokensStayValid(_ from: BackendKind, _ to: BackendKind) async throws {
        let (source, token) = try await Self.seeded(from)
        let target = try await to.makeStorage()
        let report = try await DatabaseCopier(source: source, target: target, batchSize: 7).copy()
        #expect(!report.resumed)
        #expect(report.tables.map(\.table) == TransferTable.all.map(\.name))
        #expect(report.tables.first { $0.table == "sessions" }?.rows == 25)
        #expect(report.tables.first { $0.table == "jobs" }?.rows == 2)
        var query = SessionQuery()
        query.pageSize = 10
        query.pageToken = token
        let (before, after) = (try await SessionService(storage: source).list(as: "ana", query),
                               try await SessionService(storage: target).list(as: "ana", query))
        #expect(before.items == after.items && before.items.count == 3, "the source's page token reads the same page")
        #expect(try await target.jobs(state: nil) == (try await source.jobs(state: nil)))
        #expect(try await target.transferProgress() == nil, "a finished copy leaves no progress behind")
    }

    @Test(arguments: pairs)
    func aCopyStoppedMidwayResumesAfterItsLastBatch(_ from: BackendKind, _ to: BackendKind) async throws {
        let (source, _) = try await Self.seeded(from)
        let target = try await to.makeStorage()
        let stopping = StoppingTarget(target, batches: 3)
        await expectError(.unavailable) { try await DatabaseCopier(source: source, target: stopping, batchSize: 4).copy() }
        let progress = try #require(try await target.transferProgress())
        #expect(progress.table == "sessions")
        let report = try await DatabaseCopier(source: source, target: target, batchSize: 4).copy()
        #expect(report.resumed)
        let total = report.tables.reduce(0) { $0 + $1.rows }
        #expect(report.copied < total, "the rows of the first batches were not copied again")
        #expect(try await DatabaseCopier(source: source, target: target).verify().count == TransferTable.all.count)
    }

    @Test(arguments: BackendKind.allCases)
    func aTargetWithDataOrAnotherCopyIsRefused(_ kind: BackendKind) async throws {
        let (source, _) = try await Self.seeded(kind)
        let (other, _) = try await Self.seeded(kind)
        let full = try await kind.makeStorage()
        _ = try await SessionService(storage: full).create(as: "eve", title: "mine", content: "{}")
        let copier = DatabaseCopier(source: source, target: full)
        do {
            _ = try await copier.copy()
            Issue.record("copied into a database that holds data")
        } catch let error as KeepError {
            #expect(error.code == .conflict && error.message.contains("the target is not empty (it holds 1 sessions)"),
                    "\(error)")
        }
        #expect(try await SessionService(storage: full).list(as: "eve", SessionQuery()).items.count == 1,
                "what the target held is untouched")
        let half = try await kind.makeStorage()
        await expectError(.unavailable) {
            try await DatabaseCopier(source: other, target: StoppingTarget(half, batches: 2), batchSize: 3).copy()
        }
        do {
            _ = try await DatabaseCopier(source: source, target: half).copy()
            Issue.record("resumed another database's copy")
        } catch let error as KeepError {
            #expect(error.message.contains("unfinished copy from another database"), "\(error)")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func verificationFindsADifference(_ kind: BackendKind) async throws {
        let (source, _) = try await Self.seeded(kind)
        let target = try await kind.makeStorage()
        let copier = DatabaseCopier(source: source, target: target)
        _ = try await copier.copy()
        _ = try await SessionService(storage: target).create(as: "eve", title: "late", content: "{}")
        do {
            _ = try await copier.verify()
            Issue.record("a differing copy verified")
        } catch let error as KeepError {
            #expect(error.message.contains("sessions has 25 rows") && error.message.contains("and 26"), "\(error)")
        }
    }
}

/// A target whose connection goes away after `batches` batches, as when a copy is killed.
final class StoppingTarget: TransferStorage {
    let base: any TransferStorage
    private let left: Mutex<Int>

    init(_ base: any TransferStorage, batches: Int) {
        self.base = base
        left = Mutex(batches)
    }

    func transferRows(_ table: TransferTable, after: [TransferValue]?, limit: Int) async throws -> [[TransferValue]] {
        try await base.transferRows(table, after: after, limit: limit)
    }

    func transferCount(_ table: TransferTable) async throws -> Int64 { try await base.transferCount(table) }

    func transferInsert(_ table: TransferTable, rows: [[TransferValue]], progress: TransferProgress) async throws {
        guard left.withLock({ left in defer { left -= 1 }; return left > 0 }) else {
            throw KeepError(.unavailable, "the connection to the target was lost")
        }
        try await base.transferInsert(table, rows: rows, progress: progress)
    }

    func transferProgress() async throws -> TransferProgress? { try await base.transferProgress() }
    func transferFinish() async throws { try await base.transferFinish() }
}
