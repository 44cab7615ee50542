import Foundation
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
    public static let kinds = [SnapshotService.markLogsDeleted, SnapshotService.recordVisit]

    private func attempt(_ job: Job) async throws -> Outcome {
        do {
            try await execute(job)
        } catch {
            let message = (error as? KeepError)?.description ?? "\(error)"
            let attempt = job.attempts + 1
            let now = clock.now()
            // A job that can never succeed is not retried on the schedule.
            let unrunnable = (error as? KeepError)?.details["retry"] == "never"
            let retryAt = unrunnable ? nil : schedule.delay(kind: job.kind, attempt: attempt, error: message)
                .map { Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch + max(0, $0)) }
            _ = try await storage.failJob(id: job.id, holder: holder, error: message, retryAt: retryAt, now: now)
            return Outcome(job: try await storage.job(id: job.id) ?? job, error: message)
        }
        _ = try await storage.completeJob(id: job.id, holder: holder, now: clock.now())
        return Outcome(job: try await storage.job(id: job.id) ?? job, error: nil)
    }

    /// Why no attempt can run `job`: an unknown kind, or a payload that does
    /// not say what to do. The job goes `dead` at once, with this as its reason.
    static func unrunnable(_ job: Job, _ problem: String) -> KeepError {
        KeepError(.invalid, "job \(job.id): \(problem); it can never succeed, so it is dead",
                  details: ["job": .integer(job.id), "retry": "never"])
    }

    private func execute(_ job: Job) async throws {
        let payload = JobPayload(job.payload)
        switch job.kind {
        case SnapshotService.markLogsDeleted:
            guard let id = payload.text("snapshot_id").flatMap({ try? ResourceID($0) }),
                  let deletedAt = payload.integer("deleted_at")
            else { throw Self.unrunnable(job, "the payload lacks a snapshot_id (an id) or deleted_at (ms)") }
            try await markLogsDeleted(snapshotID: id, at: Timestamp(millisecondsSinceEpoch: deletedAt))
        case SnapshotService.recordVisit:
            guard let id = payload.text("snapshot_id").flatMap({ try? ResourceID($0) }),
                  let visitor = payload.text("visitor").flatMap({ try? UserID(checking: $0) }),
                  let at = payload.integer("at")
            else {
                throw Self.unrunnable(job, "the payload lacks a snapshot_id (an id), visitor (a user id) or at (ms)")
            }
            guard let snapshot = try await storage.snapshot(id: id) else { return }  // deleted since: nothing to log
            let time = Timestamp(millisecondsSinceEpoch: at)
            let visits = self.visits
            _ = try await storage.recordVisit(AccessLog(visitor: visitor, snapshot: snapshot, at: time), now: time) {
                visits.shouldCount($0, now: time)
            }
        default:
            throw Self.unrunnable(job, "unknown kind '\(job.kind)'; the kinds are " + Self.kinds.joined(separator: ", "))
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

/// Job payloads: small flat JSON objects.
struct JobPayload {
    private let fields: [String: Any]

    init(_ text: String) {
        fields = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    func text(_ key: String) -> String? { fields[key] as? String }
    func integer(_ key: String) -> Int64? { (fields[key] as? NSNumber)?.int64Value }

    /// JSON text of a flat object.
    static func encode(_ fields: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
