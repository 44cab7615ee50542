import KeepCore

/// What the REPL tells the activity observer (SPEC §5): a keystroke means
/// the user is active; a pause means merely visible; the terminal losing
/// focus, or a long pause, means hidden. Times are milliseconds of a
/// monotonic clock, so the tracker is tested without waiting.
public struct ActivityTracker: Equatable {
    /// Idle time after which an active user counts as visible only.
    public static let visibleAfterMilliseconds: Int64 = 30_000
    /// Idle time after which the user counts as away.
    public static let hiddenAfterMilliseconds: Int64 = 600_000

    public private(set) var state: ActivityState
    private var lastKeystroke: Int64
    /// Whether the terminal said it lost focus (and has not regained it).
    private var unfocused = false

    public init(now: Int64, state: ActivityState = .active) {
        self.state = state
        lastKeystroke = now
    }

    /// A key was read: active (typing into an unfocused terminal means it has focus).
    public mutating func keystroke(at now: Int64) -> ActivityState? {
        lastKeystroke = now
        unfocused = false
        return move(to: .active)
    }

    /// The terminal reported focus in or out (DEC focus reporting, `ESC [ I` /
    /// `ESC [ O`). Focus in only counts after a focus out: some terminals
    /// report focus each time reporting is switched on, at every prompt.
    public mutating func focus(_ focused: Bool, at now: Int64) -> ActivityState? {
        guard !focused else {
            guard unfocused else { return nil }
            unfocused = false
            lastKeystroke = now
            return move(to: .visible)
        }
        unfocused = true
        return move(to: .hidden)
    }

    /// Time passed: the state idleness calls for, if it changed.
    public mutating func tick(at now: Int64) -> ActivityState? {
        let idle = now - lastKeystroke
        if unfocused || idle >= Self.hiddenAfterMilliseconds { return move(to: .hidden) }
        if idle >= Self.visibleAfterMilliseconds && state == .active { return move(to: .visible) }
        return nil
    }

    /// When `tick` may next change the state (nil: not before a keystroke or focus change).
    public func nextChange() -> Int64? {
        switch state {
        case .active: lastKeystroke + Self.visibleAfterMilliseconds
        case .visible: lastKeystroke + Self.hiddenAfterMilliseconds
        case .hidden: nil
        }
    }

    private mutating func move(to new: ActivityState) -> ActivityState? {
        guard new != state else { return nil }
        state = new
        return new
    }
}
