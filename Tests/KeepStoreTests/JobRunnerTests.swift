import Foundation
import KeepCore
import KeepPolicy
import KeepStore
import Testing

/// How the runner treats failing jobs: the retry schedule for failures that
/// may pass, `dead` at once for jobs no attempt can run.
@Suite struct JobRunnerTests {
    /// The shipped policies with `retry.lua` replaced.
    static func policies(retry source: String) throws -> PolicySet {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/policies")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keep-retry-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: shipped, to: folder)
        try source.write(to: folder.appendingPathComponent("retry.lua"), atomically: true, encoding: .utf8)
        return try PolicySet(directory: folder.path) { Timestamp(millisecondsSinceEpoch: 1_795_761_694_123) }
    }

    /// A snapshot bob visited, deleted by ana: its job marks bob's log, and fails while that write does.
    static func failingJob(_ storage: FaultyStorage, clock: SteppingClock) async throws -> Job {
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
        let clock = SteppingClock()
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
        let clock = SteppingClock()
        // A schedule that would retry for ever: it is not asked.
        let runner = JobRunner(storage: storage, schedule: DefaultRetrySchedule(), clock: clock.clock, holder: "test")
        let drafts = [
            JobDraft(kind: "no_such_kind", payload: "{}", runAt: clock.clock.now()),
            JobDraft(kind: SnapshotService.markLogsDeleted, payload: "[1, 2", runAt: clock.clock.now()),
            JobDraft(kind: SnapshotService.recordVisit,
                     payload: #"{"snapshot_id": "Ab3_x9Kq2LmZ", "visitor": "bob\n", "at": 1}"#, runAt: clock.clock.now()),
        ]
        var ids: [Int64] = []
        for draft in drafts { ids.append(try await storage.enqueueJob(draft).id) }
        let outcomes = try await runner.runDue()
        #expect(outcomes.map(\.job.id) == ids)
        #expect(outcomes.allSatisfy { $0.job.state == .dead && $0.job.attempts == 1 })
        #expect(outcomes[0].error == "invalid: job \(ids[0]): unknown kind 'no_such_kind'; the kinds are "
            + "mark_logs_deleted, record_visit; it can never succeed, so it is dead")
        #expect(outcomes[1].error?.hasPrefix("invalid: job \(ids[1]): the payload lacks a snapshot_id") == true)
        #expect(outcomes[2].error?.contains("visitor (a user id)") == true)
        #expect(try await storage.job(id: ids[0])?.lastError == outcomes[0].error)
        clock.advance(milliseconds: 60_000)
        #expect(try await runner.runDue().isEmpty)
    }
}
