import KeepCore

/// What a storage backend provides for snapshots, access logs and jobs. Every
/// method is one transaction; rules live in the services.
public protocol SnapshotStorage: Sendable {
    /// Inserts the snapshot and its creator's first access log together.
    func insertSnapshot(_ snapshot: Snapshot, creatorLog: AccessLog) async throws

    func snapshot(id: ResourceID) async throws -> Snapshot?

    /// Deletes the owner's snapshot and the owner's own access log, and queues
    /// `job` (marking the other visitors' logs), all in one transaction.
    /// Returns the queued job, or nil when the owner has no such snapshot.
    func deleteSnapshot(id: ResourceID, owner: UserID, queueing job: JobDraft) async throws -> Job?

    /// The owner's snapshots, as `SessionStorage.sessions` does for sessions.
    func snapshots(owner: UserID, matching query: SnapshotQuery, after cursor: PageCursor?,
                   limit: Int) async throws -> [Snapshot]
}

public protocol AccessLogStorage: Sendable {
    /// Records a visit in one transaction: creates `newLog` when the visitor
    /// has none for the snapshot; otherwise, when `shouldCount` says so, adds
    /// one visit and sets `last_visited_at` to `now`. Concurrent first visits
    /// must neither fail nor lose counts. Returns the log as stored.
    func recordVisit(_ newLog: AccessLog, now: Timestamp,
                     shouldCount: @escaping @Sendable (AccessLog) -> Bool) async throws -> AccessLog

    func accessLogs(visitor: UserID, matching query: AccessLogQuery, after cursor: PageCursor?,
                    limit: Int) async throws -> [AccessLog]

    /// Removes a log from the visitor's list; false when there was none.
    func removeAccessLog(visitor: UserID, snapshotID: ResourceID) async throws -> Bool

    /// Visitors whose log of the snapshot is not marked deleted yet.
    func unmarkedVisitors(snapshotID: ResourceID) async throws -> [UserID]

    /// Marks one visitor's log deleted; false when it was already marked or
    /// is gone (so a rerun job touches nothing twice).
    func markAccessLogDeleted(visitor: UserID, snapshotID: ResourceID, at time: Timestamp) async throws -> Bool
}

/// A job to queue.
public struct JobDraft: Sendable, Equatable {
    public var kind: String
    public var payload: String
    public var runAt: Timestamp

    public init(kind: String, payload: String, runAt: Timestamp) {
        self.kind = kind
        self.payload = payload
        self.runAt = runAt
    }
}

public protocol JobStorage: Sendable {
    func enqueueJob(_ draft: JobDraft) async throws -> Job

    /// Takes a lease on one due job — pending with `next_run_at <= now`, or
    /// running with an expired lease (its worker died) — or on job `id` when
    /// given (in any state but `done`). Returns nil when there is none.
    func claimJob(id: Int64?, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Job?

    /// Ends the holder's lease with success. False when the lease was lost.
    func completeJob(id: Int64, holder: String, now: Timestamp) async throws -> Bool

    /// Ends the holder's lease with failure: back to pending at `retryAt`,
    /// or `dead` when nil. Counts the attempt and keeps the error.
    func failJob(id: Int64, holder: String, error: String, retryAt: Timestamp?, now: Timestamp) async throws -> Bool

    func jobs(state: Job.State?) async throws -> [Job]
    func job(id: Int64) async throws -> Job?
}

/// Everything a backend provides.
public typealias KeepStorage = SessionStorage & SnapshotStorage & AccessLogStorage & JobStorage
