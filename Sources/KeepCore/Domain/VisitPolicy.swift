/// Decides whether a visit counts (SPEC §1 visit rate limit; `visits.lua`).
public protocol VisitPolicy: Sendable {
    /// Whether a visit at `now` to an existing log counts (updates visits and last_visited_at).
    func shouldCount(_ log: AccessLog, now: Timestamp) -> Bool
}

/// The built-in visit limit: a visit within 5 minutes of the last counted one does not count.
public struct IntervalVisitPolicy: VisitPolicy {
    public var intervalMilliseconds: Int64

    public init(intervalMilliseconds: Int64 = 5 * 60 * 1000) { self.intervalMilliseconds = intervalMilliseconds }

    public func shouldCount(_ log: AccessLog, now: Timestamp) -> Bool {
        now.millisecondsSinceEpoch - log.lastVisitedAt.millisecondsSinceEpoch >= intervalMilliseconds
    }
}
