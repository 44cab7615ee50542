import KeepCore
import Synchronization

/// A policy hook that failed at run time, as `keep.policy.status().failures`
/// shows it (and the service will export it as a metric).
public struct PolicyFailure: Sendable, Equatable {
    /// The file's function, e.g. `retry.default`, `visits.should_count`, `save.poll_when`.
    public var hook: String
    /// Failures of the hook since the process started (across reloads).
    public var count: Int
    /// The last failure's message, with file and line (`policies/retry.lua:3: …`).
    public var lastMessage: String
    public var lastAt: Timestamp

    public init(hook: String, count: Int, lastMessage: String, lastAt: Timestamp) {
        self.hook = hook
        self.count = count
        self.lastMessage = lastMessage
        self.lastAt = lastAt
    }
}

/// Failures of the hooks whose callers fall back to the built-in default
/// (a retry delay, a visit count, whether to poll, what to do on an activity
/// change): the fallback keeps jobs and working copies going, and this log
/// keeps the failure from going unseen. Each failure is counted, and `warn`
/// hears of it at most once per hook every `warningInterval`, with how many
/// it did not hear of (a hook called per job or per visit must not flood stderr).
public final class PolicyFailureLog: Sendable {
    /// Warnings of one hook are this far apart at least: one minute.
    public static let defaultWarningIntervalMilliseconds: Int64 = 60_000

    private struct Entry {
        var failure: PolicyFailure
        var lastWarnedAt: Timestamp?
        var unwarned = 0
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let clock: @Sendable () -> Timestamp
    private let warningIntervalMilliseconds: Int64
    private let warn: @Sendable (String) -> Void

    public init(clock: @escaping @Sendable () -> Timestamp,
                warningIntervalMilliseconds: Int64 = PolicyFailureLog.defaultWarningIntervalMilliseconds,
                warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.clock = clock
        self.warningIntervalMilliseconds = warningIntervalMilliseconds
        self.warn = warn
    }

    /// Counts a failure of `hook`, and warns unless this hook warned less than the interval ago.
    public func record(hook: String, _ error: KeepError, fallback: String) {
        let now = clock()
        let warning: String? = entries.withLock { entries in
            var entry = entries[hook]
                ?? Entry(failure: PolicyFailure(hook: hook, count: 0, lastMessage: "", lastAt: now))
            entry.failure.count += 1
            entry.failure.lastMessage = error.message
            entry.failure.lastAt = now
            defer { entries[hook] = entry }
            if let warned = entry.lastWarnedAt,
               now.millisecondsSinceEpoch - warned.millisecondsSinceEpoch < warningIntervalMilliseconds {
                entry.unwarned += 1
                return nil
            }
            let unwarned = entry.unwarned
            entry.lastWarnedAt = now
            entry.unwarned = 0
            return "policy \(hook) failed, \(fallback): \(error)"
                + (unwarned > 0 ? " (and \(unwarned) more time\(unwarned == 1 ? "" : "s") since the last warning)" : "")
        }
        if let warning { warn(warning) }
    }

    /// Every hook that failed, by name.
    public var failures: [PolicyFailure] {
        entries.withLock { $0.values.map(\.failure) }.sorted { $0.hook < $1.hook }
    }
}
