import KeepCore
import Synchronization

/// The user's attention as the host reports it (SPEC §5 `keep.activity`).
///
/// Subscribers are called on the thread that changes the state, in the order
/// they subscribed, outside the observer's lock. A change made while one is
/// being delivered (by a subscriber, or from another thread) is delivered
/// after the current round, so every subscriber sees the changes in order,
/// one at a time. A subscriber bound to one thread (a Lua function) hands the
/// change over to that thread instead of acting on it (`ActivitySubscribers`
/// in KeepScripting).
public final class ActivityObserver: Sendable {
    public typealias Handler = @Sendable (_ new: ActivityState, _ old: ActivityState) -> Void

    private struct State {
        var current: ActivityState
        var subscribers: [(id: Int, handler: Handler)] = []
        var nextID = 0
        var pending: [ActivityState] = []
        var delivering = false
    }

    private let guarded: Mutex<State>

    public init(state: ActivityState = .visible) {
        guarded = Mutex(State(current: state))
    }

    public var state: ActivityState { guarded.withLock { $0.current } }

    /// Moves to `new`; nothing happens when it is the current state.
    public func set(_ new: ActivityState) {
        let deliver = guarded.withLock { state -> Bool in
            state.pending.append(new)
            guard !state.delivering else { return false }
            state.delivering = true
            return true
        }
        guard deliver else { return }
        while let (next, old, handlers) = takeChange() {
            for (id, handler) in handlers where isSubscribed(id) {
                handler(next, old)
            }
        }
    }

    /// The next pending change and the subscribers to tell, or nil (delivery ends).
    private func takeChange() -> (ActivityState, ActivityState, [(id: Int, handler: Handler)])? {
        guarded.withLock { state in
            while !state.pending.isEmpty {
                let next = state.pending.removeFirst()
                guard next != state.current else { continue }
                let old = state.current
                state.current = next
                return (next, old, state.subscribers)
            }
            state.delivering = false
            return nil
        }
    }

    /// Calls `handler` on every change until the subscription is cancelled.
    public func subscribe(_ handler: @escaping Handler) -> ActivitySubscription {
        let id = guarded.withLock { state -> Int in
            state.nextID += 1
            state.subscribers.append((state.nextID, handler))
            return state.nextID
        }
        return ActivitySubscription { [weak self] in
            self?.guarded.withLock { $0.subscribers.removeAll { $0.id == id } }
        }
    }

    public var subscriberCount: Int { guarded.withLock { $0.subscribers.count } }

    private func isSubscribed(_ id: Int) -> Bool { guarded.withLock { $0.subscribers.contains { $0.id == id } } }
}

/// A handle on one subscription; `cancel` is idempotent.
public final class ActivitySubscription: Sendable {
    public typealias Body = @Sendable () -> Void

    /// The work `cancel` does, until it is done (then nil).
    private let onCancel: Mutex<[Body]?>

    init(onCancel: @escaping Body) { self.onCancel = Mutex([onCancel]) }

    public var isCancelled: Bool { onCancel.withLock { $0 == nil } }

    /// Adds work for `cancel` (releasing what the handler held).
    public func whenCancelled(_ body: @escaping Body) {
        let now = onCancel.withLock { bodies -> Bool in
            guard bodies != nil else { return true }
            bodies?.append(body)
            return false
        }
        if now { body() }
    }

    public func cancel() {
        let bodies = onCancel.withLock { bodies in
            defer { bodies = nil }
            return bodies ?? []
        }
        for body in bodies { body() }
    }
}
