import KeepCore

/// Runs durable jobs (SPEC §1 "Background jobs"): takes a lease, does the
/// work, and on failure asks the retry schedule for the next attempt or gives
/// up (`dead`). Several runners — threads, processes, hosts — can share one
/// database: a lease keeps them from running one job twice at once, and a
/// crashed runner's job is taken again once its lease expires.
public struct JobRunner: Sendable {
    public let storage: any KeepStorage
    public let schedule: any RetrySchedule
    public let visits: any VisitPolicy
    public let clock: KeepClock
    /// Who holds leases, e.g. "host:pid".
    public let holder: String
    public let leaseMilliseconds: Int64
    /// Writes in flight inside one job (the reference system's 32).
    public let concurrency: Int

    public init(storage: any KeepStorage, schedule: any RetrySchedule = DefaultRetrySchedule(),
                visits: any VisitPolicy = IntervalVisitPolicy(), clock: KeepClock = .system,
                holder: String, leaseMilliseconds: Int64 = 60_000, concurrency: Int = 32) {
        self.storage = storage
        self.schedule = schedule
        self.visits = visits
        self.clock = clock
        self.holder = holder
        self.leaseMilliseconds = leaseMilliseconds
        self.concurrency = max(1, concurrency)
    }

    /// What happened to a job in one attempt.
    public struct Outcome: Sendable, Equatable {
        public var job: Job
        /// nil when the attempt succeeded.
        public var error: String?
    }

    /// Runs every due job once; returns what happened to each.
    public func runDue() async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        while let job = try await storage.claimJob(id: nil, holder: holder, now: clock.now(),
                                                   leaseMilliseconds: leaseMilliseconds) {
            outcomes.append(try await attempt(job))
        }
        return outcomes
    }

    /// Runs job `id` now, whatever its schedule (`keep jobs retry ID`, and the
    /// immediate attempt after a snapshot delete). `done` jobs are not rerun.
    public func run(id: Int64) async throws -> Outcome {
        guard let job = try await storage.claimJob(id: id, holder: holder, now: clock.now(),
                                                   leaseMilliseconds: leaseMilliseconds) else {
            guard let existing = try await storage.job(id: id) else {
                throw KeepError(.notFound, "job \(id) not found")
            }
            throw KeepError(.conflict, existing.state == .done
                ? "job \(id) is already done"
                : "job \(id) is being run by \(existing.leaseHolder ?? "another runner") until \(existing.leaseExpiresAt?.iso8601 ?? "?")")
        }
        return try await attempt(job)
    }

    /// The job kinds this runner knows.
    public static let kinds: [JobKind] = [.markLogsDeleted, .recordVisit]

    func attempt(_ job: Job) async throws -> Outcome {
        do {
            try await execute(job)
        } catch {
            let attempt = job.attempts + 1
            let now = clock.now()
            let message: String
            let retryAt: Timestamp?
            if let unrunnable = error as? Unrunnable {
                // A job that can never succeed is not retried on the schedule.
                message = unrunnable.error.description
                retryAt = nil
            } else {
                message = (error as? KeepError)?.description ?? "\(error)"
                retryAt = schedule.delay(kind: job.kind, attempt: attempt, error: message)
                    .map { Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + max(0, $0)) }
            }
            let failed = try await storage.failJob(id: job.id, holder: holder, error: message, retryAt: retryAt, now: now)
            return Outcome(job: try await recorded(failed, job), error: message)
        }
        let done = try await storage.completeJob(id: job.id, holder: holder, now: clock.now())
        return Outcome(job: try await recorded(done, job), error: nil)
    }

    /// The job as the attempt left it; read again only when the lease was
    /// lost (another worker's attempt may have moved it on).
    private func recorded(_ written: Job?, _ job: Job) async throws -> Job {
        if let written { return written }
        return try await storage.job(id: job.id) ?? job
    }

    /// Why no attempt can run a job (an unknown kind, a payload that does not
    /// decode): the job goes `dead` at once, with the error as its reason.
    /// A type of its own, so that no string in the error steers the runner.
    struct Unrunnable: Error {
        let error: KeepError

        init(_ job: Job, _ problem: String) {
            error = KeepError(.invalid, "job \(job.id): \(problem); it can never succeed, so it is dead",
                              details: ["job": .integer(job.id)])
        }
    }

    /// The payload of `job`, or `Unrunnable` naming what is wrong with it.
    private func payload<Payload: JobPayload>(_ type: Payload.Type, of job: Job) throws(Unrunnable) -> Payload {
        do {
            return try Payload.decode(job)
        } catch {
            throw Unrunnable(job, error.message)
        }
    }

    private func execute(_ job: Job) async throws {
        switch job.kind {
        case .markLogsDeleted:
            let payload = try payload(MarkLogsDeletedPayload.self, of: job)
            try await markLogsDeleted(snapshotID: payload.snapshotID, at: payload.deletedAt)
        case .recordVisit:
            let payload = try payload(RecordVisitPayload.self, of: job)
            guard let snapshot = try await storage.snapshot(id: payload.snapshotID) else { return }  // deleted since: nothing to log
            let visits = self.visits
            _ = try await storage.recordVisit(AccessLog(visitor: payload.visitor, snapshot: snapshot, at: payload.at),
                                              now: payload.at) {
                visits.shouldCount($0, now: payload.at)
            }
        default:
            throw Unrunnable(job, "unknown kind '\(job.kind)'; the kinds are " + Self.kinds.map(\.rawValue).joined(separator: ", "))
        }
    }

    /// Marks every other visitor's log of a deleted snapshot, at most
    /// `concurrency` writes in flight. Idempotent: only unmarked logs are touched.
    func markLogsDeleted(snapshotID: ResourceID, at time: Timestamp) async throws {
        let visitors = try await storage.unmarkedVisitors(snapshotID: snapshotID)
        let storage = self.storage
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = visitors.startIndex
            func startNext() {
                guard next < visitors.endIndex else { return }
                let visitor = visitors[next]
                next += 1
                group.addTask { _ = try await storage.markAccessLogDeleted(visitor: visitor, snapshotID: snapshotID, at: time) }
            }
            for _ in 0 ..< concurrency { startNext() }
            while try await group.next() != nil { startNext() }
        }
    }
}
