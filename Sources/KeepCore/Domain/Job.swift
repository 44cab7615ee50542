/// A durable background job (SPEC §1 "Background jobs").
public struct Job: Equatable, Sendable {
    public enum State: String, Sendable, CaseIterable {
        case pending, running, done, dead
    }

    public var id: Int64
    /// What the job does, e.g. `mark_logs_deleted`.
    public var kind: String
    /// JSON text.
    public var payload: String
    public var state: State
    public var attempts: Int
    public var nextRunAt: Timestamp
    public var lastError: String?
    /// Who runs it now, and until when (a crashed worker's lease expires).
    public var leaseHolder: String?
    public var leaseExpiresAt: Timestamp?
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(id: Int64, kind: String, payload: String, state: State, attempts: Int, nextRunAt: Timestamp,
                lastError: String?, leaseHolder: String?, leaseExpiresAt: Timestamp?, createdAt: Timestamp,
                updatedAt: Timestamp) {
        self.id = id
        self.kind = kind
        self.payload = payload
        self.state = state
        self.attempts = attempts
        self.nextRunAt = nextRunAt
        self.lastError = lastError
        self.leaseHolder = leaseHolder
        self.leaseExpiresAt = leaseExpiresAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// When to retry a failed job (`retry.lua`): the delay before the next
/// attempt, or nil to give up (the job goes `dead`).
public protocol RetrySchedule: Sendable {
    /// `attempt` is the number of the attempt that just failed (1 for the first).
    func delay(kind: String, attempt: Int, error: String) -> Int64?
}

/// The built-in schedule: 1 s, 2 s, 4 s, then dead.
public struct DefaultRetrySchedule: RetrySchedule {
    public static let delaysMilliseconds: [Int64] = [1000, 2000, 4000]

    public init() {}

    public func delay(kind: String, attempt: Int, error: String) -> Int64? {
        attempt >= 1 && attempt <= Self.delaysMilliseconds.count ? Self.delaysMilliseconds[attempt - 1] : nil
    }
}
