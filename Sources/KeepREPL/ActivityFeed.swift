import KeepCore
#if canImport(Glibc)
import Glibc
#endif

/// Feeds the activity observer from the terminal while the REPL waits for a
/// line, and runs the host's timers (journal writes, polls) meanwhile.
final class ActivityFeed: LineEditor.Waiting {
    private let activity: ReplSession.Activity
    private var tracker: ActivityTracker

    init(activity: ReplSession.Activity) {
        self.activity = activity
        tracker = ActivityTracker(now: Self.now())
        activity.set(tracker.state)
    }

    /// Milliseconds of the monotonic clock.
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    func waitLimit() -> Int64? {
        let now = Self.now()
        let limits = [tracker.nextChange().map { $0 - now }, activity.nextTimer()].compactMap { $0 }
        return limits.min().map { max(0, $0) }
    }

    func idle() {
        if let state = tracker.tick(at: Self.now()) { activity.set(state) }
        activity.runTimers()
    }

    /// Always tells the observer: a script may have set another state since
    /// the tracker last changed (the observer ignores a repeat).
    func keystroke() {
        _ = tracker.keystroke(at: Self.now())
        activity.set(.active)
    }

    func focus(_ focused: Bool) {
        if let state = tracker.focus(focused, at: Self.now()) { activity.set(state) }
        activity.runTimers()
    }

    /// After an evaluation: what idleness calls for, and the timers that came due.
    func evaluated() { idle() }
}
