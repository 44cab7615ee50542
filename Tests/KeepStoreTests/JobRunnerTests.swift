import Foundation
import KeepCore
import KeepPolicy
import KeepStore
import KeepTestSupport
import Synchronization
import Testing

/// How the runner treats failing jobs: the retry schedule for failures that
/// may pass, `dead` at once for jobs no attempt can run.
@Suite struct JobRunnerTests {
    /// The shipped policies with `retry.lua` replaced.
    static func policies(retry source: String) throws -> PolicySet {
        let shipped = Checkout.policies
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keep-retry-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: shipped, to: folder)
        try source.write(to: folder.appendingPathComponent("retry.lua"), atomically: true, encoding: .utf8)
        return try PolicySet(directory: folder.path) { Timestamp(millisecondsSinceEpoch: 1_795_761_694_123) }
    }

    /// A snapshot bob visited, deleted by ana: its job marks bob's log, and fails while that write does.
    static func failingJob(_ storage: FaultyStorage, clock: TestClock) async throws -> Job {
        let snapshots = SnapshotService(storage: storage, clock: clock.clock)
        let snapshot = try await snapshots.create(as: "ana", title: "doomed", content: "{}")
        _ = try await snapshots.get(as: "bob", id: snapshot.id)
        storage.fail(["markAccessLogDeleted"])
        return try await snapshots.delete(as: "ana", id: snapshot.id)
    }

    @Test(arguments: BackendKind.allCases)
    func theRetryPolicyDecidesAFailingJobsDelaysAndDeath(_ kind: BackendKind) async throws {
        let policies = try Self.policies(retry: """
            return { default = function(attempt) if attempt < 3 then return 250 * attempt end end }
            """)
        let clock = TestClock.stepping()
        let storage = FaultyStorage(try await kind.makeStorage())
        let job = try await Self.failingJob(storage, clock: clock)
        let runner = JobRunner(storage: storage, schedule: policies, clock: clock.clock, holder: "test")
        var delays: [Int64] = []
        for _ in 0 ..< 3 {
            let outcome = try await runner.run(id: job.id)
            if outcome.job.state == .pending {
                delays.append(outcome.job.nextRunAt.millisecondsSinceEpoch - outcome.job.updatedAt.millisecondsSinceEpoch)
            }
            clock.advance(milliseconds: 10_000)
        }
        #expect(delays == [250, 500])
        let final = try #require(try await storage.job(id: job.id))
        #expect(final.state == .dead && final.attempts == 3)
        #expect(final.lastError == "unavailable: injected fault in markAccessLogDeleted")
    }

    @Test(arguments: BackendKind.allCases)
    func jobsNoAttemptCanRunGoDeadAtOnceWithTheReason(_ kind: BackendKind) async throws {
        let storage = try await kind.makeStorage()
        let clock = TestClock.stepping()
        // A schedule that would retry for ever: it is not asked.
        let runner = JobRunner(storage: storage, schedule: DefaultRetrySchedule(), clock: clock.clock, holder: "test")
        let drafts = [
            JobDraft(kind: "no_such_kind", payload: "{}", runAt: clock.clock.now()),
            JobDraft(kind: .markLogsDeleted, payload: "[1, 2", runAt: clock.clock.now()),
            JobDraft(kind: .recordVisit,
                     payload: #"{"snapshot_id": "Ab3_x9Kq2LmZ", "visitor": "bob\n", "at": 1}"#, runAt: clock.clock.now()),
            JobDraft(kind: .markLogsDeleted, payload: #"{"snapshot_id": "Ab3_x9Kq2LmZ"}"#, runAt: clock.clock.now()),
            JobDraft(kind: .recordVisit, payload: #"{"snapshot_id": "Ab3_x9Kq2LmZ", "visitor": "bob", "at": "1"}"#,
                     runAt: clock.clock.now()),
            JobDraft(kind: .markLogsDeleted, payload: "[]", runAt: clock.clock.now()),
        ]
        var ids: [Int64] = []
        for draft in drafts { ids.append(try await storage.enqueueJob(draft).id) }
        let outcomes = try await runner.runDue()
        #expect(outcomes.map(\.job.id) == ids)
        #expect(outcomes.allSatisfy { $0.job.state == .dead && $0.job.attempts == 1 })
        #expect(outcomes[0].error == "invalid: job \(ids[0]): unknown kind 'no_such_kind'; the kinds are "
            + "mark_logs_deleted, record_visit; it can never succeed, so it is dead")
        #expect(outcomes[1].error?.hasPrefix("invalid: job \(ids[1]): the payload is not JSON;") == true, "\(outcomes[1].error ?? "")")
        #expect(outcomes[1].error?.hasSuffix("; a mark_logs_deleted payload holds snapshot_id (an id) and deleted_at "
            + "(ms since the epoch); it can never succeed, so it is dead") == true, "\(outcomes[1].error ?? "")")
        #expect(outcomes[2].error?.hasPrefix("invalid: job \(ids[2]): the payload has a bad visitor: the user id") == true,
                "\(outcomes[2].error ?? "")")
        #expect(outcomes[2].error?.contains("a record_visit payload holds snapshot_id (an id), visitor (a user id)") == true)
        #expect(outcomes[3].error?.hasPrefix("invalid: job \(ids[3]): the payload lacks deleted_at;") == true,
                "\(outcomes[3].error ?? "")")
        #expect(outcomes[4].error?.hasPrefix("invalid: job \(ids[4]): the payload has at of the wrong type (not Int64);") == true,
                "\(outcomes[4].error ?? "")")
        #expect(outcomes[5].error?.hasPrefix("invalid: job \(ids[5]): the payload is not a JSON object;") == true,
                "\(outcomes[5].error ?? "")")
        #expect(try await storage.job(id: ids[0])?.lastError == outcomes[0].error)
        clock.advance(milliseconds: 60_000)
        #expect(try await runner.runDue().isEmpty)
    }

    /// Batch claims take the earliest due jobs, skip those another worker
    /// holds, and take a dead worker's jobs again once its lease expired;
    /// a heartbeat keeps a lease, and a lost lease cannot complete its job.
    @Test(arguments: BackendKind.allCases)
    func batchClaimsLeasesAndHeartbeats(_ kind: BackendKind) async throws {
        let storage = try await kind.makeStorage()
        let clock = TestClock()
        var ids: [Int64] = []
        for offset in [0, 0, 0, 0, 0, 5_000] {
            let at = Timestamp(millisecondsSinceEpoch: clock.now.millisecondsSinceEpoch + Int64(offset))
            ids.append(try await storage.enqueueJob(JobDraft(kind: .markLogsDeleted, payload: "{}", runAt: at)).id)
        }
        let lease: Int64 = 60_000
        let a = try await storage.claimJobs(limit: 3, holder: "a", now: clock.now, leaseMilliseconds: lease)
        #expect(a.map(\.id) == Array(ids[0 ..< 3]))
        #expect(a.allSatisfy { $0.state == .running && $0.leaseHolder == "a" })
        let b = try await storage.claimJobs(limit: 3, holder: "b", now: clock.now, leaseMilliseconds: lease)
        #expect(b.map(\.id) == Array(ids[3 ..< 5]), "the held jobs are skipped, the one not yet due too")
        #expect(try await storage.claimJobs(limit: 3, holder: "c", now: clock.now, leaseMilliseconds: lease).isEmpty)

        clock.advance(milliseconds: 30_000)
        #expect(try await storage.renewJobLease(id: ids[0], holder: "a", now: clock.now, leaseMilliseconds: lease))
        #expect(try await storage.renewJobLease(id: ids[1], holder: "b", now: clock.now, leaseMilliseconds: lease) == false,
                "only the holder renews")
        clock.advance(milliseconds: 40_000)
        // a's heartbeat kept job 0; every other lease expired (a and b died).
        let c = try await storage.claimJobs(limit: 10, holder: "c", now: clock.now, leaseMilliseconds: lease)
        #expect(c.map(\.id) == Array(ids[1...]))
        #expect(try await storage.completeJob(id: ids[1], holder: "a", now: clock.now) == nil, "a lost its lease")
        #expect(try await storage.completeJob(id: ids[0], holder: "a", now: clock.now)?.state == .done)
        #expect(try await storage.completeJob(id: ids[1], holder: "c", now: clock.now)?.state == .done)
        #expect(try await storage.job(id: ids[1])?.attempts == 1)
    }

    /// A worker with several jobs at once runs each queued job once, then stops when asked.
    @Test(arguments: BackendKind.allCases)
    func aWorkerRunsEveryDueJobOnceAndStops(_ kind: BackendKind) async throws {
        let storage = try await kind.makeStorage()
        let clock = TestClock(stepPerRead: 1)
        let snapshots = SnapshotService(storage: storage, clock: clock.clock)
        for index in 0 ..< 20 {
            let snapshot = try await snapshots.create(as: "ana", title: "s\(index)", content: "{}")
            _ = try await snapshots.get(as: "bob", id: snapshot.id)
            try await snapshots.delete(as: "ana", id: snapshot.id)
        }
        let runner = JobRunner(storage: storage, clock: clock.clock, holder: "worker")
        let worker = JobWorker(runner: runner, concurrency: 4, pollInterval: .milliseconds(20))
        let reported = Mutex<[JobRunner.Outcome]>([])
        await worker.run { outcome in
            if reported.withLock({ $0.append(outcome); return $0.count }) == 20 { worker.stop() }
        }
        let outcomes = reported.withLock { $0 }
        #expect(Set(outcomes.map(\.job.id)).count == 20)
        #expect(outcomes.allSatisfy { $0.error == nil && $0.job.state == .done && $0.job.attempts == 1 })
        #expect(try await storage.jobs(state: .done).count == 20)
        var query = AccessLogQuery()
        query.pageSize = 50
        let logs = try await snapshots.visits(as: "bob", query)
        #expect(logs.items.count == 20 && logs.items.allSatisfy(\.snapshotDeleted))
    }

    /// A job that runs longer than its lease keeps it: the worker's heartbeat
    /// renews it, so another worker cannot take it while it runs. Time on
    /// the injected clock is far past the lease; the test waits for renewals
    /// it observes, not for time to pass.
    @Test(.timeLimit(.minutes(1)), arguments: BackendKind.allCases)
    func aHeartbeatKeepsTheLeaseOfAJobThatRunsLong(_ kind: BackendKind) async throws {
        let storage = FaultyStorage(try await kind.makeStorage())
        let clock = TestClock()
        let job = try await storage.enqueueJob(JobDraft(MarkLogsDeletedPayload(snapshotID: ResourceID.generate(),
                                                                               deletedAt: clock.clock.now()),
                                                        runAt: clock.clock.now()))
        storage.holdJobs()
        let lease: Int64 = 300
        let worker = JobWorker(runner: JobRunner(storage: storage, clock: clock.clock, holder: "long", leaseMilliseconds: lease),
                               pollInterval: .milliseconds(20))
        let reported = Mutex<[JobRunner.Outcome]>([])
        let working = Task {
            await worker.run { outcome in
                reported.withLock { $0.append(outcome) }
                worker.stop()
            }
        }
        while try await storage.job(id: job.id)?.state != .running { try await Task.sleep(for: .milliseconds(5)) }
        clock.advance(milliseconds: 60_000)  // the claim's lease ran out long ago, by the clock
        let renewed = storage.renewals.withLock { $0 }
        while storage.renewals.withLock({ $0 }) < renewed + 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try await storage.claimJobs(limit: 1, holder: "other", now: clock.clock.now(), leaseMilliseconds: lease).isEmpty,
                "the heartbeat renewed the lease from the clock's now: nobody else takes the job")
        storage.releaseJobs()
        await working.value
        #expect(reported.withLock { $0.map(\.job.state) } == [.done])
        #expect(try await storage.job(id: job.id)?.attempts == 1)
    }

    /// An idle worker wakes when the next job comes due (a retry's delay),
    /// not only at its poll: here an hour, which the test would not survive.
    @Test(.timeLimit(.minutes(1)), arguments: BackendKind.allCases)
    func anIdleWorkerWakesWhenTheNextJobIsDue(_ kind: BackendKind) async throws {
        let storage = try await kind.makeStorage()
        let clock = KeepClock.system
        let due = Timestamp(millisecondsSinceEpoch: clock.now().millisecondsSinceEpoch + 300)
        #expect(try await storage.nextJobDue() == nil)
        let job = try await storage.enqueueJob(JobDraft(MarkLogsDeletedPayload(snapshotID: ResourceID.generate(), deletedAt: due),
                                                        runAt: due))
        #expect(try await storage.nextJobDue() == due)
        let worker = JobWorker(runner: JobRunner(storage: storage, clock: clock, holder: "worker"), pollInterval: .seconds(3600))
        let reported = Mutex<[JobRunner.Outcome]>([])
        await worker.run { outcome in
            reported.withLock { $0.append(outcome) }
            worker.stop()
        }
        let outcomes = reported.withLock { $0 }
        #expect(outcomes.map(\.job.id) == [job.id] && outcomes.first?.job.state == .done)
        #expect(clock.now().millisecondsSinceEpoch >= due.millisecondsSinceEpoch)
    }

    /// Payloads are stored as they always were (flat JSON with sorted keys),
    /// so jobs queued by an earlier version still run.
    @Test func payloadsKeepTheStoredFormat() throws {
        let id = try ResourceID("Ab3_x9Kq2LmZ")
        let marked = MarkLogsDeletedPayload(snapshotID: id, deletedAt: Timestamp(millisecondsSinceEpoch: 1_795_761_694_123))
        #expect(marked.json == #"{"deleted_at":1795761694123,"snapshot_id":"Ab3_x9Kq2LmZ"}"#)
        let draft = JobDraft(marked, runAt: Timestamp(millisecondsSinceEpoch: 5))
        #expect(draft.kind == .markLogsDeleted && draft.kind.rawValue == "mark_logs_deleted")
        let visit = RecordVisitPayload(snapshotID: id, visitor: "bob", at: Timestamp(millisecondsSinceEpoch: 7))
        #expect(visit.json == #"{"at":7,"snapshot_id":"Ab3_x9Kq2LmZ","visitor":"bob"}"#)
        #expect(JobDraft(visit, runAt: Timestamp(millisecondsSinceEpoch: 5)).kind.rawValue == "record_visit")
    }
}
