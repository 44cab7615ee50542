import KeepCore

/// A job to queue.
public struct JobDraft: Sendable, Equatable {
    public var kind: JobKind
    /// JSON text (see `JobPayload`).
    public var payload: String
    public var runAt: Timestamp

    public init(kind: JobKind, payload: String, runAt: Timestamp) {
        self.kind = kind
        self.payload = payload
        self.runAt = runAt
    }
}

/// What a storage backend provides for durable jobs (SPEC §1 "Background
/// jobs"). Every method is one transaction.
public protocol JobStorage: Sendable {
    func enqueueJob(_ draft: JobDraft) async throws -> Job

    /// Takes a lease on one due job — pending with `next_run_at <= now`, or
    /// running with an expired lease (its worker died) — or on job `id` when
    /// given (in any state but `done`). Returns nil when there is none.
    func claimJob(id: Int64?, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Job?

    /// Takes a lease on up to `limit` due jobs at once (`keep jobs work`), the
    /// earliest due first; jobs another worker is claiming at the same moment
    /// are skipped, not waited for. Empty when none is due.
    func claimJobs(limit: Int, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> [Job]

    /// Moves the holder's lease on job `id` to `now + leaseMilliseconds` (the
    /// heartbeat of a job that runs long). False when the lease was lost.
    func renewJobLease(id: Int64, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Bool

    /// When the next job comes due: the earliest `next_run_at` of a pending
    /// job or lease expiry of a running one; nil when there is none (an idle
    /// worker then sleeps until its poll or a notification).
    func nextJobDue() async throws -> Timestamp?

    /// One element each time a job may have been queued by another process,
    /// so that an idle worker wakes at once; nil when the backend cannot tell
    /// (SQLite: workers poll). PostgreSQL listens on a dedicated connection,
    /// closed when the stream's consumer stops.
    func jobsQueued() async throws -> AsyncStream<Void>?

    /// Ends the holder's lease with success; the job as now stored, or nil
    /// when the lease was lost (nothing was written).
    func completeJob(id: Int64, holder: String, now: Timestamp) async throws -> Job?

    /// Ends the holder's lease with failure: back to pending at `retryAt`,
    /// or `dead` when nil. Counts the attempt and keeps the error. The job as
    /// now stored, or nil when the lease was lost (nothing was written).
    func failJob(id: Int64, holder: String, error: String, retryAt: Timestamp?, now: Timestamp) async throws -> Job?

    func jobs(state: Job.State?) async throws -> [Job]
    /// How many jobs are in each state, every state present (0 when none):
    /// the queue depth `keep serve`'s `/metrics` exports. One counting query.
    func jobCounts() async throws -> [Job.State: Int]
    func job(id: Int64) async throws -> Job?
}
