import KeepCore

/// What a storage backend provides for snapshots and access logs. Every
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
    /// Records a visit: creates `newLog` when the visitor has none for the
    /// snapshot; otherwise, when `shouldCount` says so, adds one visit and
    /// sets `last_visited_at` to `now`. Concurrent first visits must neither
    /// fail nor lose counts. Returns the log as stored. `shouldCount` may run
    /// Lua (the visit policy, up to its budget): it is never called while a
    /// lock or transaction is held; the count is written only if the log is
    /// still as the policy saw it, and decided again otherwise (at most
    /// `AccessLogRecording.attempts` times).
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

/// Everything a backend provides.
public typealias KeepStorage = SessionStorage & SnapshotStorage & AccessLogStorage & JobStorage

/// How often a visit is decided again when concurrent visits keep moving
/// its log between the policy's decision and the write.
public enum AccessLogRecording {
    public static let attempts = 64

    /// The error after `attempts` tries.
    public static func tooBusy(_ log: AccessLog) -> KeepError {
        KeepError(.unavailable, "could not log a visit of \(log.visitor) to snapshot \(log.snapshotID): "
            + "\(attempts) concurrent visits in a row moved its count first (try again)")
    }
}

