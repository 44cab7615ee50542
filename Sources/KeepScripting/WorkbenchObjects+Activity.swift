import KeepCore
import KeepLua
import KeepWorkbench
import Synchronization

extension WorkbenchObjects {
    /// Installs `keep.activity` as field of the table at `keep`.
    func installActivity(in keep: Int32, _ stack: LuaStack) {
        let activity = context.activity
        stack.newTable(fieldCapacity: 3)
        stack.setFunction("set", of: -1) { [weak self] stack in
            guard let self else { throw WorkbenchObjects.released }
            let text = try stack.checkText(1)
            guard let new = ActivityState(rawValue: text) else {
                throw stack.argumentError(1, "\"active\", \"visible\" or \"hidden\" expected, got \"\(text)\"")
            }
            activity.set(new)
            self.activitySubscribers.deliver()
            // The poll that becoming active asks for happens now.
            self.context.runDueTimers()
            return 0
        }
        stack.setFunction("subscribe", of: -1) { [weak self] stack in
            guard let self else { throw WorkbenchObjects.released }
            return try self.activitySubscribers.subscribe(stack)
        }
        // `state` is read through __index so that it is always current.
        stack.newTable(fieldCapacity: 1)
        stack.setFunction("__index", of: -1) { [weak self] stack in
            guard stack.text(at: 2) == "state" else { stack.pushNil(); return 1 }
            self?.activitySubscribers.deliver()
            stack.push(activity.state.rawValue)
            return 1
        }
        stack.push(false)
        stack.setField("__metatable", of: -2)  // hidden, as every shared metatable
        stack.setMetatable(of: -2)
        stack.setField("activity", of: keep)
    }
}

/// Changes of `keep.activity` waiting for the Lua state's thread: the
/// observer's handlers post them from whichever thread sets the state.
final class ActivityInbox: Sendable {
    struct Change: Sendable {
        let subscriber: Int
        let new: ActivityState
        let old: ActivityState
    }

    private let changes = Mutex<[Change]>([])

    func post(_ change: Change) { changes.withLock { $0.append(change) } }

    /// The oldest change not delivered yet.
    func take() -> Change? { changes.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
}

/// The Lua functions subscribed to `keep.activity` in one state.
///
/// Lua may run only on the thread that uses the state, so the observer's
/// handler of a Lua subscriber just posts the change to an inbox, and
/// `deliver` calls the functions on the state's thread: at every
/// `keep.activity` and `keep.workbench` call, in `keep.workbench.wait`, and
/// from the host while no script runs (`KeepAPI.deliverActivity`: the REPL's
/// input loop). Not `Sendable`: confined to the state's thread, as the state is.
final class ActivitySubscribers {
    /// The registry field that holds this object (for `KeepAPI.deliverActivity`).
    static let registryField = "keep.activity.subscribers"

    /// How the registry holds this object (any instance finds it: they share the name).
    static func registryClass() -> LuaHostClass<ActivitySubscribers> {
        LuaHostClass(name: "ActivitySubscribers") { _ in "ActivitySubscribers" }
    }

    /// A subscriber called while no script runs (from the REPL's input loop)
    /// gets this budget; inside a script it runs under the script's.
    /// (No memory limit: it would count the whole state's heap, not the subscriber's.)
    static let budget = LuaBudget(instructions: 10_000_000, time: .seconds(1))

    private let observer: ActivityObserver
    /// Weak: the state holds this object; nil once the state closes.
    private weak var state: LuaState?
    let subscriptionClass: LuaHostClass<ActivitySubscription>
    private let inbox = ActivityInbox()
    /// By subscriber id: the function's registry reference and its subscription.
    private var subscribers: [Int: (reference: Int32, subscription: ActivitySubscription)] = [:]
    private var nextID = 0
    private var delivering = false

    init(observer: ActivityObserver, state: LuaState) {
        self.observer = observer
        self.state = state
        subscriptionClass = LuaHostClass<ActivitySubscription>(name: "ActivitySubscription") { subscription in
            subscription.isCancelled ? "ActivitySubscription<cancelled>" : "ActivitySubscription<active>"
        }
        subscriptionClass.property("cancelled", get: { subscription, stack in stack.push(subscription.isCancelled) })
        subscriptionClass.method("cancel") { [weak self] subscription, _ in
            subscription.cancel()
            self?.releaseCancelled()
            return 0
        }
        state.stack.push(self, as: Self.registryClass())
        state.stack.setRegistryField(Self.registryField)
    }

    /// The observer belongs to the script's context, which may outlive the state.
    deinit {
        for subscriber in subscribers.values { subscriber.subscription.cancel() }
    }

    /// keep.activity.subscribe(fn) → a subscription; fn(new, old) runs on every change until it is cancelled.
    func subscribe(_ stack: LuaStack) throws -> Int32 {
        guard stack.type(at: 1) == .function else {
            throw stack.argumentError(1, "function(new, old) expected, got \(stack.typeName(at: 1))")
        }
        // A finalizer run while the state closes may call this.
        guard state != nil else { throw KeepError(.invalid, "keep.activity.subscribe: the Lua state is closing") }
        stack.pushCopy(of: 1)
        let reference = stack.popReference()
        nextID += 1
        let (id, inbox) = (nextID, inbox)
        let subscription = observer.subscribe { new, old in inbox.post(.init(subscriber: id, new: new, old: old)) }
        subscribers[id] = (reference, subscription)
        stack.push(subscription, as: subscriptionClass)
        return 1
    }

    /// Calls the subscribers of the changes posted since the last delivery, in
    /// order. Asked for by a subscriber, it returns at once: the delivery in
    /// progress goes on with the next change, so subscribers see one at a time.
    func deliver() {
        guard !delivering, let state else { return }
        delivering = true
        defer { delivering = false }
        while let change = inbox.take() {
            guard let subscriber = subscribers[change.subscriber], !subscriber.subscription.isCancelled else { continue }
            Self.notify(state, reference: subscriber.reference, change)
        }
        releaseCancelled()
    }

    /// Frees the functions of cancelled subscriptions.
    func releaseCancelled() {
        guard let state else { return }
        for (id, subscriber) in subscribers where subscriber.subscription.isCancelled {
            state.stack.releaseReference(subscriber.reference)
            subscribers[id] = nil
        }
    }

    /// Calls one Lua subscriber; its errors are reported, not raised, so one
    /// broken subscriber does not stop the others or the host.
    private static func notify(_ state: LuaState, reference: Int32, _ change: ActivityInbox.Change) {
        let stack = state.stack
        let top = stack.top
        defer { stack.setTop(top) }
        stack.push(reference: reference)
        stack.push(change.new.rawValue)
        stack.push(change.old.rawValue)
        do {
            try state.call(arguments: 2, results: 0, budget: budget)
        } catch {
            ScriptDiagnostics.report("keep.activity subscriber failed: \(error.description)")
        }
    }
}

extension KeepAPI {
    /// Runs the `keep.activity` subscribers of `state` for the changes made
    /// since the last delivery, from whichever thread. Call it on the state's
    /// thread while no Lua code runs (the REPL's input loop does, after
    /// feeding the observer); scripts get theirs at every `keep.activity` and
    /// `keep.workbench` call.
    public static func deliverActivity(in state: LuaState) {
        let stack = state.stack
        stack.pushRegistryField(ActivitySubscribers.registryField)
        let subscribers = stack.object(at: -1, as: ActivitySubscribers.registryClass())
        stack.pop()
        subscribers?.deliver()
    }
}
