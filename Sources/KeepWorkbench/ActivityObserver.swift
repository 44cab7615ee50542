import Foundation
import KeepCore

/// The user's attention as the host reports it (SPEC §5 `keep.activity`).
///
/// Subscribers are called on the thread that changes the state, in the order
/// they subscribed, outside the observer's lock. A change made while one is
/// being delivered (by a subscriber, or from another thread) is delivered
/// after the current round, so every subscriber sees the changes in order,
/// one at a time.
public final class ActivityObserver: @unchecked Sendable {
    public typealias Handler = (_ new: ActivityState, _ old: ActivityState) -> Void

    private let lock = NSLock()
    private var current: ActivityState
    private var subscribers: [(id: Int, handler: Handler)] = []
    private var nextID = 0
    private var pending: [ActivityState] = []
    private var delivering = false

    public init(state: ActivityState = .visible) {
        current = state
    }

    public var state: ActivityState { lock.withLock { current } }

    /// Moves to `new`; nothing happens when it is the current state.
    public func set(_ new: ActivityState) {
        let deliver = lock.withLock { () -> Bool in
            pending.append(new)
            guard !delivering else { return false }
            delivering = true
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
        lock.withLock {
            while !pending.isEmpty {
                let next = pending.removeFirst()
                guard next != current else { continue }
                let old = current
                current = next
                return (next, old, subscribers)
            }
            delivering = false
            return nil
        }
    }

    /// Calls `handler` on every change until the subscription is cancelled.
    public func subscribe(_ handler: @escaping Handler) -> ActivitySubscription {
        let id = lock.withLock { () -> Int in
            nextID += 1
            subscribers.append((nextID, handler))
            return nextID
        }
        return ActivitySubscription { [weak self] in
            guard let self else { return }
            self.lock.withLock { self.subscribers.removeAll { $0.id == id } }
        }
    }

    public var subscriberCount: Int { lock.withLock { subscribers.count } }

    private func isSubscribed(_ id: Int) -> Bool { lock.withLock { subscribers.contains { $0.id == id } } }
}

/// A handle on one subscription; `cancel` is idempotent.
public final class ActivitySubscription: @unchecked Sendable {
    private let lock = NSLock()
    private var onCancel: [() -> Void]
    private var cancelled = false

    init(onCancel: @escaping () -> Void) { self.onCancel = [onCancel] }

    public var isCancelled: Bool { lock.withLock { cancelled } }

    /// Adds work for `cancel` (releasing what the handler held).
    public func whenCancelled(_ body: @escaping () -> Void) {
        let now = lock.withLock { () -> Bool in
            if cancelled { return true }
            onCancel.append(body)
            return false
        }
        if now { body() }
    }

    public func cancel() {
        let bodies = lock.withLock { () -> [() -> Void] in
            guard !cancelled else { return [] }
            cancelled = true
            defer { onCancel = [] }
            return onCancel
        }
        for body in bodies { body() }
    }
}
