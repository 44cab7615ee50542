import KeepCore
import KeepLua
import KeepStore

/// The `keep` table of SPEC §3.
public enum KeepAPI {
    /// Installs `keep` as a global of `state`. `allowActingAs` enables
    /// `keep.as` (CLI, REPL and migrations; never in the server).
    ///
    /// A sandboxed state gets neither `keep.as` (acting as another user is
    /// for the user's own trusted scripts) nor `keep.jobs` (the job queue is
    /// an operator's tool: it shows and runs every user's jobs).
    public static func install(in state: LuaState, context: ScriptContext, allowActingAs: Bool = true) {
        let trusted = state.trust == .trusted
        let stack = state.stack
        let sessions = SessionObjects(context: context)
        let snapshots = SnapshotObjects(context: context, sessions: sessions)
        sessions.snapshots = snapshots
        let workbench = WorkbenchObjects(context: context, state: state)
        workbench.snapshots = snapshots
        workbench.sessions = sessions
        // The handles keep each other alive through the closures below.
        stack.newTable(fieldCapacity: 10)
        let keep = stack.top
        stack.push(context.user)
        stack.setField("user", of: keep)
        stack.setFunction("now", of: keep) { stack in
            stack.push(context.clock.now().iso8601)
            return 1
        }
        table("sessions", in: keep, stack, [
            ("create", sessions.create), ("get", sessions.get), ("update", sessions.update),
            ("delete", sessions.delete), ("list", sessions.list), ("each", sessions.each),
        ])
        table("snapshots", in: keep, stack, [
            ("create", snapshots.create), ("get", snapshots.get), ("list", snapshots.list),
            ("delete", { stack in try snapshots.delete(try snapshots.id(stack, 1)); return 0 }),
        ])
        table("visits", in: keep, stack, [("list", snapshots.visits), ("remove", snapshots.removeVisit)])
        if trusted {
            table("jobs", in: keep, stack, [
                ("list", snapshots.jobs), ("run", snapshots.runJobs), ("retry", snapshots.retryJob),
            ])
        }
        table("workbench", in: keep, stack, [
            ("open", workbench.open), ("new", workbench.new), ("recoverable", workbench.recoverable),
            ("recover", workbench.recover), ("discard", workbench.discard), ("copies", workbench.copies),
            ("wait", workbench.wait),
        ])
        workbench.installActivity(in: keep, stack)
        table("policy", in: keep, stack, [("status", { stack in try policyStatus(stack, context: context) })])
        if allowActingAs && trusted {
            stack.setFunction("as", of: keep) { stack in try actAs(stack, context: context) }
        }
        stack.setGlobal("keep")
        finishBeforeExit(state, context: context)
    }

    /// `os.exit` (trusted states have it) first journals unsaved working
    /// copies and closes the store, as the end of a script or REPL does: C
    /// `exit` would skip that.
    private static func finishBeforeExit(_ state: LuaState, context: ScriptContext) {
        let source = """
            local finish = ...
            if type(os) == "table" and type(os.exit) == "function" then
              local exit, tointeger = os.exit, math.tointeger
              os.exit = function(code, ...)
                -- A bad argument raises (from exit itself) before anything is closed.
                if code == nil or type(code) == "boolean" or tointeger(code) then finish() end
                return exit(code, ...)
              end
            end
            """
        do throws(LuaError) {
            try state.load(Array(source.utf8), chunkName: "=(keep os.exit)")
            state.stack.pushFunction(named: "keep finish") { _ in
                context.finish()
                return 0
            }
            try state.call(arguments: 1, results: 0)
        } catch {
            ScriptDiagnostics.report("os.exit cannot journal working copies: \(error.description)")
        }
    }

    private static func table(_ name: String, in keep: Int32, _ stack: LuaStack,
                              _ functions: [(String, (LuaStack) throws -> Int32)]) {
        stack.newTable(fieldCapacity: Int32(functions.count))
        for (function, body) in functions { stack.setFunction(function, of: -1, body) }
        stack.setField(name, of: keep)
    }

    /// keep.policy.status() → {version, directory, files, loaded_at, last_error, failures} (version 0: built-in defaults).
    private static func policyStatus(_ stack: LuaStack, context: ScriptContext) throws -> Int32 {
        stack.newTable(fieldCapacity: 5)
        guard let status = try context.policies.registry?.status else {
            stack.push(0); stack.setField("version", of: -2)
            stack.push("built-in defaults"); stack.setField("directory", of: -2)
            return 1
        }
        stack.push(status.version); stack.setField("version", of: -2)
        stack.push(status.directory); stack.setField("directory", of: -2)
        stack.newTable(arrayCapacity: Int32(status.files.count))
        for (index, file) in status.files.enumerated() {
            stack.push(file)
            stack.setIndex(Int64(index + 1), of: -2)
        }
        stack.setField("files", of: -2)
        stack.push(status.loadedAt.iso8601); stack.setField("loaded_at", of: -2)
        if let error = status.lastError { stack.push(error); stack.setField("last_error", of: -2) }
        stack.newTable(arrayCapacity: Int32(status.failures.count))
        for (index, failure) in status.failures.enumerated() {
            stack.newTable(fieldCapacity: 4)
            stack.push(failure.hook); stack.setField("hook", of: -2)
            stack.push(Int64(failure.count)); stack.setField("count", of: -2)
            stack.push(failure.lastMessage); stack.setField("last_message", of: -2)
            stack.push(failure.lastAt.iso8601); stack.setField("last_at", of: -2)
            stack.setIndex(Int64(index + 1), of: -2)
        }
        stack.setField("failures", of: -2)
        return 1
    }

    /// Makes `user` the acting user of `context` and of `keep.user` in
    /// `state` (the REPL's `.user ID`), and returns it normalized. Throws
    /// `invalid` for a bad id (SPEC §1 "User ids").
    @discardableResult
    public static func switchUser(to text: String, in state: LuaState, context: ScriptContext) throws(KeepError)
        -> UserID {
        let user = try UserID(checking: text)
        context.user = user
        setUserField(state.stack, user)
        return user
    }

    /// keep.as(user, fn, ...): calls fn with `user` as the acting user, then restores it.
    private static func actAs(_ stack: LuaStack, context: ScriptContext) throws -> Int32 {
        let user = try UserID(checking: try stack.checkBytes(1))
        guard stack.type(at: 2) == .function else {
            throw stack.argumentError(2, "function expected, got \(stack.typeName(at: 2))")
        }
        let previous = context.user
        context.user = user
        setUserField(stack, user)
        defer {
            context.user = previous
            setUserField(stack, previous)
        }
        let base = stack.absolute(1)
        let arguments = stack.top - 2
        stack.remove(at: base)   // drop the user argument: fn, args…
        do {
            try stack.call(arguments: arguments, results: LuaStack.allResults)
        } catch {
            throw error.keepError ?? KeepError(.invalid, error.description)
        }
        return stack.top - base + 1
    }

    private static func setUserField(_ stack: LuaStack, _ user: UserID) {
        stack.pushGlobals()
        if stack.pushField("keep", of: -1) == .table {
            stack.push(user)
            stack.setField("user", of: -2)
        }
        stack.pop(2)
    }
}

extension KeepError {
    /// A host object's method needs the `keep` table it came from, and that
    /// table was replaced and collected.
    static let releasedAPI = KeepError(
        .invalid, "the keep API this object came from is gone (keep was replaced and collected); get the object again from keep")
}
