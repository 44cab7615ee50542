/// A durable background job (SPEC §1 "Background jobs").
public struct Job: Equatable, Sendable {
    public enum State: String, Sendable, CaseIterable {
        case pending, running, done, dead
    }

    public var id: Int64
    /// What the job does, e.g. `mark_logs_deleted`.
    public var kind: JobKind
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

    public init(id: Int64, kind: JobKind, payload: String, state: State, attempts: Int, nextRunAt: Timestamp,
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

/// What a job does: the name stored with it (`mark_logs_deleted`). A struct,
/// not an enum: a database may hold kinds this version does not know, and
/// the runner must read them to declare them dead.
public struct JobKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
                       ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    /// Marks the other visitors' logs of a deleted snapshot.
    public static let markLogsDeleted = JobKind(rawValue: "mark_logs_deleted")
    /// Records a visit whose log could not be written when it happened.
    public static let recordVisit = JobKind(rawValue: "record_visit")
}
