import Foundation
import KeepCore
import KeepStore

/// The timers of the host's event loop: autosave debounce, polling.
///
/// The queue runs nothing on its own thread. The host drives it: the REPL
/// calls `runDue()` while it waits for input, `keep run` at every call into
/// the `keep` API, tests after moving a fake clock. So timer work never runs
/// beside a script's own calls, and tests never sleep.
public final class TimerQueue: @unchecked Sendable {
    public typealias Action = @Sendable () async -> Void

    public let clock: KeepClock
    private let lock = NSLock()
    private var timers: [String: (deadline: Int64, sequence: Int, action: Action)] = [:]
    private var sequence = 0
    private var running = false

    public init(clock: KeepClock) {
        self.clock = clock
    }

    /// Runs `action` once the clock reaches `deadline`; replaces a timer of the same key.
    public func schedule(_ key: String, at deadline: Timestamp, _ action: @escaping Action) {
        lock.withLock {
            sequence += 1
            timers[key] = (deadline.millisecondsSinceEpoch, sequence, action)
        }
    }

    /// Runs `action` after `milliseconds` from now.
    public func schedule(_ key: String, after milliseconds: Int64, _ action: @escaping Action) {
        schedule(key, at: Timestamp(millisecondsSinceEpoch: clock.now().millisecondsSinceEpoch + milliseconds), action)
    }

    public func cancel(_ key: String) {
        _ = lock.withLock { timers.removeValue(forKey: key) }
    }

    public func deadline(of key: String) -> Timestamp? {
        lock.withLock { timers[key].map { Timestamp(millisecondsSinceEpoch: $0.deadline) } }
    }

    /// When the earliest timer is due (the REPL waits for input until then).
    public var nextDeadline: Timestamp? {
        lock.withLock { timers.values.map(\.deadline).min().map { Timestamp(millisecondsSinceEpoch: $0) } }
    }

    public var isEmpty: Bool { lock.withLock { timers.isEmpty } }

    /// Runs every timer that is due, earliest first (ties in the order they
    /// were scheduled), including ones that due timers schedule for now. A
    /// call made while timers run returns at once: work is never nested.
    public func runDue() async {
        guard lock.withLock({ () -> Bool in
            if running { return false }
            running = true
            return true
        }) else { return }
        defer { lock.withLock { running = false } }
        while let action = takeNextDue() {
            await action()
        }
    }

    private func takeNextDue() -> Action? {
        let now = clock.now().millisecondsSinceEpoch
        return lock.withLock {
            guard let (key, timer) = timers.filter({ $0.value.deadline <= now })
                .min(by: { ($0.value.deadline, $0.value.sequence) < ($1.value.deadline, $1.value.sequence) })
            else { return nil }
            timers.removeValue(forKey: key)
            return timer.action
        }
    }
}
