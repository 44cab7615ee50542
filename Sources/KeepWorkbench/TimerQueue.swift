import KeepCore
import KeepStore
import Synchronization

/// The timers of the host's event loop: autosave debounce, polling.
///
/// The queue runs nothing on its own thread. The host drives it: the REPL
/// calls `runDue()` while it waits for input, `keep run` at every call into
/// the `keep` API, tests after moving a fake clock. So timer work never runs
/// beside a script's own calls, and tests never sleep.
public final class TimerQueue: Sendable {
    public typealias Action = @Sendable () async -> Void

    private struct State {
        var timers: [String: (deadline: Int64, sequence: Int, action: Action)] = [:]
        var sequence = 0
        var running = false
    }

    public let clock: KeepClock
    private let guarded = Mutex(State())

    public init(clock: KeepClock) {
        self.clock = clock
    }

    /// Runs `action` once the clock reaches `deadline`; replaces a timer of the same key.
    public func schedule(_ key: String, at deadline: Timestamp, _ action: @escaping Action) {
        guarded.withLock { state in
            state.sequence += 1
            state.timers[key] = (deadline.millisecondsSinceEpoch, state.sequence, action)
        }
    }

    /// Runs `action` after `milliseconds` from now.
    public func schedule(_ key: String, after milliseconds: Int64, _ action: @escaping Action) {
        schedule(key, at: Timestamp(millisecondsSinceEpoch: clock.now().millisecondsSinceEpoch + milliseconds), action)
    }

    public func cancel(_ key: String) {
        _ = guarded.withLock { $0.timers.removeValue(forKey: key) }
    }

    public func deadline(of key: String) -> Timestamp? {
        guarded.withLock { $0.timers[key].map { Timestamp(millisecondsSinceEpoch: $0.deadline) } }
    }

    /// When the earliest timer is due (the REPL waits for input until then).
    public var nextDeadline: Timestamp? {
        guarded.withLock { $0.timers.values.map(\.deadline).min().map { Timestamp(millisecondsSinceEpoch: $0) } }
    }

    public var isEmpty: Bool { guarded.withLock { $0.timers.isEmpty } }

    /// Runs every timer that is due, earliest first (ties in the order they
    /// were scheduled), including ones that due timers schedule for now. A
    /// call made while timers run returns at once: work is never nested.
    public func runDue() async {
        guard guarded.withLock({ state -> Bool in
            if state.running { return false }
            state.running = true
            return true
        }) else { return }
        defer { guarded.withLock { $0.running = false } }
        while let action = takeNextDue() {
            await action()
        }
    }

    private func takeNextDue() -> Action? {
        let now = clock.now().millisecondsSinceEpoch
        return guarded.withLock { state in
            guard let (key, timer) = state.timers.filter({ $0.value.deadline <= now })
                .min(by: { ($0.value.deadline, $0.value.sequence) < ($1.value.deadline, $1.value.sequence) })
            else { return nil }
            state.timers.removeValue(forKey: key)
            return timer.action
        }
    }
}
