/// When to retry a failed job (`retry.lua`): the delay before the next
/// attempt, or nil to give up (the job goes `dead`).
public protocol RetrySchedule: Sendable {
    /// `attempt` is the number of the attempt that just failed (1 for the first).
    func delay(kind: JobKind, attempt: Int, error: String) -> Int64?
}

/// The built-in schedule: 1 s, 2 s, 4 s, then dead.
public struct DefaultRetrySchedule: RetrySchedule {
    public static let delaysMilliseconds: [Int64] = [1000, 2000, 4000]

    public init() {}

    public func delay(kind: JobKind, attempt: Int, error: String) -> Int64? {
        attempt >= 1 && attempt <= Self.delaysMilliseconds.count ? Self.delaysMilliseconds[attempt - 1] : nil
    }
}
