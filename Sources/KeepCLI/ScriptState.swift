import KeepLua
import KeepScripting
import KeepRuntime
import KeepWorkbench
#if canImport(Glibc)
import Glibc
#endif

extension GlobalOptions {
    /// A Lua state with the `keep` API acting as the chosen user on the chosen
    /// database (`keep run`, `keep repl`). The store and the policy set open
    /// when a script first uses them; `holder` names this process's job leases.
    func scriptState(trust: LuaTrust, holder: String) -> (LuaState, ScriptContext) {
        let state: LuaState
        do {
            state = try LuaState(trust: trust)
        } catch {
            fail("keep: \(error)", status: ExitStatus.failure)
        }
        let recovery = ScriptContext.RecoveryLocation(root: RecoveryJournal.defaultRoot(
            environment: ["XDG_STATE_HOME": environment("XDG_STATE_HOME"), "HOME": environment("HOME")].compactMapValues { $0 }),
                                                      databasePath: (try? database.label) ?? databasePath)
        // Policies are watched: edits take effect while the script or REPL runs.
        let configuration = runtime(holder: holder, watchPolicies: true)
        let context = ScriptContext(user: actingUser(), recovery: recovery) {
            try KeepServices(configuration)
        }
        KeepAPI.install(in: state, context: context)
        return (state, context)
    }
}
