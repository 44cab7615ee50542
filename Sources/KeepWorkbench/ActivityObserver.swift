import KeepCore

/// The user's attention as the host reports it (SPEC §5 `keep.activity`).
///
/// Subscribers are called on the thread that changes the state, in the order
/// they subscribed. A change made by a subscriber is delivered after the
/// current round, so every subscriber sees the changes in order, one at a time.
public final class ActivityObserver: @unchecked Sendable {
    public typealias Handler = (_ new: ActivityState, _ old: ActivityState) -> Void

    public private(set) var state: ActivityState
    private var subscribers: [(id: Int, handler: Handler)] = []
    private var nextID = 0
    private var pending: [ActivityState] = []
    private var delivering = false

    public init(state: ActivityState = .visible) {
        self.state = state
    }

    /// Moves to `new`; nothing happens when it is the current state.
    public func set(_ new: ActivityState) {
        pending.append(new)
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        while !pending.isEmpty {
            let next = pending.removeFirst()
            guard next != state else { continue }
            let old = state
            state = next
            for subscriber in subscribers where isSubscribed(subscriber.id) {
                subscriber.handler(next, old)
            }
        }
    }

    /// Calls `handler` on every change until the subscription is cancelled.
    public func subscribe(_ handler: @escaping Handler) -> ActivitySubscription {
        nextID += 1
        let id = nextID
        subscribers.append((id, handler))
        return ActivitySubscription { [weak self] in self?.subscribers.removeAll { $0.id == id } }
    }

    public var subscriberCount: Int { subscribers.count }

    private func isSubscribed(_ id: Int) -> Bool { subscribers.contains { $0.id == id } }
}

/// A handle on one subscription; `cancel` is idempotent.
public final class ActivitySubscription: @unchecked Sendable {
    private var onCancel: [() -> Void]
    public private(set) var isCancelled = false

    init(onCancel: @escaping () -> Void) { self.onCancel = [onCancel] }

    /// Adds work for `cancel` (releasing what the handler held).
    public func whenCancelled(_ body: @escaping () -> Void) {
        if isCancelled { body() } else { onCancel.append(body) }
    }

    public func cancel() {
        guard !isCancelled else { return }
        isCancelled = true
        for body in onCancel { body() }
        onCancel = []
    }
}
