import KeepCore
import KeepStore
import KeepTestSupport
import Testing

/// Snapshots, access logs and jobs (SPEC §1), run against every backend.
@Suite struct SnapshotConformanceTests {
    struct World {
        let clock = TestClock.stepping()
        let storage: FaultyStorage
        let snapshots: SnapshotService
        let runner: JobRunner

        init(_ kind: BackendKind, concurrency: Int = 32) async throws {
            storage = FaultyStorage(try await kind.makeStorage())
            snapshots = SnapshotService(storage: storage, clock: clock.clock)
            runner = JobRunner(storage: storage, clock: clock.clock, holder: "test-runner",
                               leaseMilliseconds: 10_000, concurrency: concurrency)
        }

        func log(_ visitor: UserID, _ id: ResourceID) async throws -> AccessLog? {
            var query = AccessLogQuery()
            query.pageSize = 100
            return try await snapshots.visits(as: visitor, query).items.first { $0.snapshotID == id }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func anyoneReadsVisitsAreRateLimited(_ kind: BackendKind) async throws {
        let world = try await World(kind)
        let snapshot = try await world.snapshots.create(as: "ana", title: "shared", description: "d", content: "{}")
        #expect(try await world.log("ana", snapshot.id)?.visits == 1, "creating counts as the first visit")
        #expect(try await world.snapshots.get(as: "bob", id: snapshot.id) == snapshot)
        #expect(try await world.log("bob", snapshot.id)?.visits == 1)
        _ = try await world.snapshots.get(as: "bob", id: snapshot.id)
        #expect(try await world.log("bob", snapshot.id)?.visits == 1, "within 5 minutes: not counted")
        world.clock.advance(milliseconds: 5 * 60 * 1000)
        _ = try await world.snapshots.get(as: "bob", id: snapshot.id)
        let log = try #require(try await world.log("bob", snapshot.id))
        #expect(log.visits == 2 && log.snapshotOwner == "ana" && log.snapshotTitle == "shared")
        #expect(log.snapshotHash == snapshot.hash && log.snapshotCreatedAt == snapshot.createdAt)
        #expect(try await world.snapshots.list(as: "bob", SnapshotQuery()).items.isEmpty, "listing shows only one's own")
        #expect(try await world.snapshots.list(as: "ana", SnapshotQuery()).items.map(\.id) == [snapshot.id])
        await expectError(.notFound) { try await world.snapshots.get(as: "bob", id: try ResourceID("AAAAAAAAAAAA")) }
    }

    @Test(arguments: BackendKind.allCases)
    func concurrentFirstVisitsLoseNoCount(_ kind: BackendKind) async throws {
        let world = try await World(kind)
        let snapshot = try await world.snapshots.create(as: "ana", title: "popular", content: "{}")
        let always = SnapshotService(storage: world.storage, visits: IntervalVisitPolicy(intervalMilliseconds: 0),
                                     clock: world.clock.clock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0 ..< 24 {
                group.addTask { _ = try await always.get(as: "v\(i % 3)", id: snapshot.id) }
            }
            try await group.waitForAll()
        }
        for visitor in ["v0", "v1", "v2"] {
            #expect(try await world.log(visitor, snapshot.id)?.visits == 8)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func onlyTheOwnerDeletesAndOtherLogsAreMarked(_ kind: BackendKind) async throws {
        let world = try await World(kind)
        let snapshot = try await world.snapshots.create(as: "ana", title: "doomed", content: "{}")
        for visitor in ["bob", "cyd", "dee"] { _ = try await world.snapshots.get(as: visitor, id: snapshot.id) }
        let forbidden = await #expect(throws: KeepError.self) { try await world.snapshots.delete(as: "bob", id: snapshot.id) }
        #expect(forbidden?.code == .forbidden)
        let job = try await world.snapshots.delete(as: "ana", id: snapshot.id)
        #expect(job.state == .pending && job.kind == "mark_logs_deleted")
        await expectError(.notFound) { try await world.snapshots.get(as: "bob", id: snapshot.id) }
        #expect(try await world.log("ana", snapshot.id) == nil, "the owner's own log goes with the snapshot")
        let outcome = try await world.runner.run(id: job.id)
        #expect(outcome.error == nil && outcome.job.state == .done && outcome.job.attempts == 1)
        for visitor in ["bob", "cyd", "dee"] {
            let log = try #require(try await world.log(visitor, snapshot.id))
            #expect(log.snapshotDeleted && log.snapshotDeletedAt != nil)
        }
        #expect(world.storage.marked.withLock { $0 } == ["bob": 1, "cyd": 1, "dee": 1])
        // Visitors can remove the entry from their own list.
        try await world.snapshots.removeVisit(as: "bob", snapshotID: snapshot.id)
        #expect(try await world.log("bob", snapshot.id) == nil)
        await expectError(.notFound) { try await world.snapshots.removeVisit(as: "bob", snapshotID: snapshot.id) }
    }

    @Test(arguments: BackendKind.allCases)
    func failingJobRetriesOnScheduleThenDiesThenRetryFinishesIt(_ kind: BackendKind) async throws {
        let world = try await World(kind, concurrency: 2)
        let snapshot = try await world.snapshots.create(as: "ana", title: "doomed", content: "{}")
        for i in 0 ..< 5 { _ = try await world.snapshots.get(as: "u\(i)", id: snapshot.id) }
        world.storage.fail(["markAccessLogDeleted"])
        let job = try await world.snapshots.delete(as: "ana", id: snapshot.id)
        let first = try await world.runner.run(id: job.id)
        #expect(first.job.state == .pending && first.job.attempts == 1)
        #expect(first.job.lastError == "unavailable: injected fault in markAccessLogDeleted")
        var delays = [first.job.nextRunAt.millisecondsSinceEpoch - first.job.updatedAt.millisecondsSinceEpoch]
        #expect(try await world.runner.runDue().isEmpty, "not due yet")
        for _ in 0 ..< 3 {
            world.clock.advance(milliseconds: 10_000)
            let outcomes = try await world.runner.runDue()
            #expect(outcomes.count == 1)
            let job = try #require(outcomes.first?.job)
            if job.state == .pending {
                delays.append(job.nextRunAt.millisecondsSinceEpoch - job.updatedAt.millisecondsSinceEpoch)
            }
        }
        #expect(delays == [1000, 2000, 4000])
        let dead = try #require(try await world.storage.job(id: job.id))
        #expect(dead.state == .dead && dead.attempts == 4 && dead.lastError != nil)
        world.clock.advance(milliseconds: 60_000)
        #expect(try await world.runner.runDue().isEmpty, "dead jobs are not run again by themselves")
        world.storage.fail([])
        let retried = try await world.runner.run(id: job.id)
        #expect(retried.error == nil && retried.job.state == .done)
        #expect(world.storage.marked.withLock { $0 }.values.allSatisfy { $0 == 1 })
        #expect(world.storage.marked.withLock { $0.count } == 5)
        await expectError(.conflict) { try await world.runner.run(id: job.id) }
    }

    @Test(arguments: BackendKind.allCases)
    func aCrashedWorkersJobIsTakenAgainAfterItsLeaseExpires(_ kind: BackendKind) async throws {
        let world = try await World(kind)
        let snapshot = try await world.snapshots.create(as: "ana", title: "doomed", content: "{}")
        _ = try await world.snapshots.get(as: "bob", id: snapshot.id)
        let job = try await world.snapshots.delete(as: "ana", id: snapshot.id)
        // A worker takes the lease and dies without finishing.
        let taken = try await world.storage.claimJob(id: nil, holder: "crashed", now: world.clock.clock.now(),
                                                     leaseMilliseconds: 30_000)
        #expect(taken?.id == job.id && taken?.state == .running)
        #expect(try await world.runner.runDue().isEmpty, "the lease is still held")
        await expectError(.conflict) { try await world.runner.run(id: job.id) }
        world.clock.advance(milliseconds: 30_001)
        let outcomes = try await world.runner.runDue()
        #expect(outcomes.map(\.job.state) == [.done])
        #expect(try await world.log("bob", snapshot.id)?.snapshotDeleted == true)
        // The dead worker's late completion changes nothing.
        #expect(try await world.storage.completeJob(id: job.id, holder: "crashed", now: world.clock.clock.now()) == nil)
        #expect(world.storage.marked.withLock { $0 } == ["bob": 1])
    }

    @Test(arguments: BackendKind.allCases)
    func aFailedVisitLogDoesNotFailTheReadAndIsRetried(_ kind: BackendKind) async throws {
        let world = try await World(kind)
        let snapshot = try await world.snapshots.create(as: "ana", title: "shared", content: "{}")
        world.storage.fail(["recordVisit"])
        #expect(try await world.snapshots.get(as: "bob", id: snapshot.id) == snapshot)
        #expect(try await world.log("bob", snapshot.id) == nil)
        let queued = try await world.storage.jobs(state: .pending)
        #expect(queued.map(\.kind) == ["record_visit"])
        world.storage.fail([])
        let outcomes = try await world.runner.runDue()
        #expect(outcomes.map(\.job.state) == [.done])
        #expect(try await world.log("bob", snapshot.id)?.visits == 1)
    }

    @Test(arguments: BackendKind.allCases)
    func visitListingSortsAndFilters(_ kind: BackendKind) async throws {
        let world = try await World(kind)
        var ids: [ResourceID] = []
        for (owner, title) in [("ana", "Zeta"), ("cyd", "alpha"), ("ana", "Mid")] {
            let snapshot = try await world.snapshots.create(as: owner, title: title, content: "{}")
            ids.append(snapshot.id)
            _ = try await world.snapshots.get(as: "bob", id: snapshot.id)
        }
        _ = try await world.runner.runDue()
        try await world.snapshots.delete(as: "ana", id: ids[2])
        _ = try await world.runner.runDue()
        var query = AccessLogQuery()
        #expect(try await world.snapshots.visits(as: "bob", query).items.map(\.snapshotID) == ids.reversed())
        query.sortBy = .title
        query.direction = .ascending
        #expect(try await world.snapshots.visits(as: "bob", query).items.map(\.snapshotTitle) == ["alpha", "Mid", "Zeta"])
        query = AccessLogQuery()
        query.owner = "ana"
        #expect(Set(try await world.snapshots.visits(as: "bob", query).items.map(\.snapshotID)) == [ids[0], ids[2]])
        query = AccessLogQuery()
        query.deleted = true
        #expect(try await world.snapshots.visits(as: "bob", query).items.map(\.snapshotID) == [ids[2]])
        expectErrorNow(.invalid) { try AccessLogSortField(parsing: "owner") }
    }
}
