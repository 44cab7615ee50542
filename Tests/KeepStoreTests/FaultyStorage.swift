import KeepCore
import KeepStore
import Synchronization

/// Wraps a backend and makes chosen writes fail, to test retries and
/// failure handling; counts the writes that went through.
final class FaultyStorage: KeepStorage {
    let base: any KeepStorage
    /// Operations that fail while listed.
    let failing = Mutex<Set<String>>([])
    let marked = Mutex<[String: Int]>([:])
    /// Lease renewals that went through (a worker's heartbeat).
    let renewals = Mutex(0)
    /// While set, a job's `unmarkedVisitors` waits for `releaseJobs`: a job that runs as long as a test needs.
    private let heldJobs = Mutex<(holding: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func holdJobs() { heldJobs.withLock { $0.holding = true } }

    func releaseJobs() {
        let waiting = heldJobs.withLock { held in
            defer { held = (false, []) }
            return held.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    init(_ base: any KeepStorage) { self.base = base }

    func fail(_ operations: Set<String>) { failing.withLock { $0 = operations } }

    private func check(_ operation: String) throws {
        if failing.withLock({ $0.contains(operation) }) {
            throw KeepError(.unavailable, "injected fault in \(operation)")
        }
    }

    // Sessions
    func insertSession(_ session: Session) async throws { try await base.insertSession(session) }
    func session(id: ResourceID, owner: UserID) async throws -> Session? { try await base.session(id: id, owner: owner) }
    func replaceSession(_ session: Session, ifVersion version: Int64) async throws -> Bool {
        try await base.replaceSession(session, ifVersion: version)
    }
    func deleteSession(id: ResourceID, owner: UserID, version: Int64?) async throws -> Bool {
        try await base.deleteSession(id: id, owner: owner, version: version)
    }
    func sessions(owner: UserID, matching query: SessionQuery, after cursor: PageCursor?, limit: Int) async throws -> [Session] {
        try await base.sessions(owner: owner, matching: query, after: cursor, limit: limit)
    }
    func tokenSecret() async throws -> [UInt8] { try await base.tokenSecret() }

    // Snapshots
    func insertSnapshot(_ snapshot: Snapshot, creatorLog: AccessLog) async throws {
        try await base.insertSnapshot(snapshot, creatorLog: creatorLog)
    }
    func snapshot(id: ResourceID) async throws -> Snapshot? { try await base.snapshot(id: id) }
    func deleteSnapshot(id: ResourceID, owner: UserID, queueing job: JobDraft) async throws -> Job? {
        try await base.deleteSnapshot(id: id, owner: owner, queueing: job)
    }
    func snapshots(owner: UserID, matching query: SnapshotQuery, after cursor: PageCursor?, limit: Int) async throws -> [Snapshot] {
        try await base.snapshots(owner: owner, matching: query, after: cursor, limit: limit)
    }

    // Access logs
    func recordVisit(_ newLog: AccessLog, now: Timestamp, shouldCount: @escaping @Sendable (AccessLog) -> Bool) async throws -> AccessLog {
        try check("recordVisit")
        return try await base.recordVisit(newLog, now: now, shouldCount: shouldCount)
    }
    func accessLogs(visitor: UserID, matching query: AccessLogQuery, after cursor: PageCursor?, limit: Int) async throws -> [AccessLog] {
        try await base.accessLogs(visitor: visitor, matching: query, after: cursor, limit: limit)
    }
    func removeAccessLog(visitor: UserID, snapshotID: ResourceID) async throws -> Bool {
        try await base.removeAccessLog(visitor: visitor, snapshotID: snapshotID)
    }
    func unmarkedVisitors(snapshotID: ResourceID) async throws -> [UserID] {
        await withCheckedContinuation { continuation in
            let hold = heldJobs.withLock { held in
                if held.holding { held.waiting.append(continuation) }
                return held.holding
            }
            if !hold { continuation.resume() }
        }
        return try await base.unmarkedVisitors(snapshotID: snapshotID)
    }
    func markAccessLogDeleted(visitor: UserID, snapshotID: ResourceID, at time: Timestamp) async throws -> Bool {
        try check("markAccessLogDeleted")
        let changed = try await base.markAccessLogDeleted(visitor: visitor, snapshotID: snapshotID, at: time)
        if changed { marked.withLock { $0[visitor, default: 0] += 1 } }
        return changed
    }

    // Jobs
    func enqueueJob(_ draft: JobDraft) async throws -> Job { try await base.enqueueJob(draft) }
    func claimJob(id: Int64?, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Job? {
        try await base.claimJob(id: id, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
    }
    func claimJobs(limit: Int, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> [Job] {
        try await base.claimJobs(limit: limit, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
    }
    func renewJobLease(id: Int64, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Bool {
        let renewed = try await base.renewJobLease(id: id, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
        if renewed { renewals.withLock { $0 += 1 } }
        return renewed
    }
    func nextJobDue() async throws -> Timestamp? { try await base.nextJobDue() }
    func jobsQueued() async throws -> AsyncStream<Void>? { try await base.jobsQueued() }
    func completeJob(id: Int64, holder: String, now: Timestamp) async throws -> Job? {
        try await base.completeJob(id: id, holder: holder, now: now)
    }
    func failJob(id: Int64, holder: String, error: String, retryAt: Timestamp?, now: Timestamp) async throws -> Job? {
        try await base.failJob(id: id, holder: holder, error: error, retryAt: retryAt, now: now)
    }
    func jobs(state: Job.State?) async throws -> [Job] { try await base.jobs(state: state) }
    func jobCounts() async throws -> [Job.State: Int] { try await base.jobCounts() }
    func job(id: Int64) async throws -> Job? { try await base.job(id: id) }
}
