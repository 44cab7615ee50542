import Foundation
import KeepCore
import KeepLua
import KeepScripting
import Testing

/// `keep.activity` subscribers are Lua functions: they run on the thread that
/// uses the state, whichever thread changes the activity (SPEC §5,
/// docs/workbench.md "The activity observer").
@Suite struct ActivityDeliveryTests {
    /// A trusted state with the `keep` API (the store is never opened) and a
    /// global `on_this_thread()` telling whether Lua runs on the test's thread.
    private func scriptState() throws -> (LuaState, ScriptContext) {
        let state = try LuaState()
        let recovery = ScriptContext.RecoveryLocation(root: NSTemporaryDirectory(), databasePath: "unused.sqlite")
        let context = ScriptContext(user: try UserID(checking: "ana"), recovery: recovery) {
            throw KeepError(.internal, "these tests open no store")
        }
        KeepAPI.install(in: state, context: context)
        let testThread = pthread_self()
        state.stack.pushFunction(named: "on_this_thread") { stack in
            stack.push(pthread_equal(pthread_self(), testThread) != 0)
            return 1
        }
        state.stack.setGlobal("on_this_thread")
        _ = try state.execute("""
            seen = {}
            sub = keep.activity.subscribe(function(new, old)
              seen[#seen + 1] = old .. ">" .. new .. (on_this_thread() and "" or " (on another thread)")
            end)
            """)
        return (state, context)
    }

    /// Sets the activity from a thread of its own and waits for it to end.
    private func setOnAnotherThread(_ new: ActivityState, _ context: ScriptContext) {
        let done = DispatchSemaphore(value: 0)
        let activity = context.activity
        Thread {
            activity.set(new)
            done.signal()
        }.start()
        done.wait()
    }

    private func seen(_ state: LuaState) throws -> String? {
        try state.execute("return table.concat(seen, ' ')").first?.text
    }

    @Test func aChangeFromAnotherThreadRunsTheSubscriberOnTheStatesThread() throws {
        let (state, context) = try scriptState()
        setOnAnotherThread(.hidden, context)
        #expect(try seen(state) == "")
        #expect(try state.execute("return keep.activity.state").first?.text == "hidden")
        #expect(try seen(state) == "visible>hidden")
    }

    /// The REPL's input loop, where no Lua code runs, delivers through `KeepAPI.deliverActivity`.
    @Test func theHostDeliversWhileNoScriptRuns() throws {
        let (state, context) = try scriptState()
        setOnAnotherThread(.active, context)
        setOnAnotherThread(.hidden, context)
        KeepAPI.deliverActivity(in: state)
        #expect(try seen(state) == "visible>active active>hidden")
    }

    @Test func aSubscriptionCancelledBeforeDeliveryIsNotCalled() throws {
        let (state, context) = try scriptState()
        setOnAnotherThread(.hidden, context)
        _ = try state.execute("sub:cancel()")
        KeepAPI.deliverActivity(in: state)
        #expect(try seen(state) == "")
        #expect(try state.execute("return sub.cancelled").first == .boolean(true))
    }
}
