import KeepCore
import KeepPolicy

/// Loads a process's policy folder, and watches it when asked.
enum PolicyLoader {
    /// The folder's policies, or the built-in defaults (the same limits as
    /// the shipped scripts) when there is none. A hook that fails at run
    /// time falls back to the built-in default, is counted in the registry's
    /// status and warned about through `warn` (once a minute at most per
    /// hook). A watched folder's edits take effect while the process runs; a
    /// failed reload keeps the last good set and is reported through `warn`,
    /// as is a watcher that cannot start (the process then runs on the set it
    /// loaded).
    static func load(_ configuration: RuntimeConfiguration) throws -> (policies: Policies, watcher: PolicyWatcher?) {
        guard let directory = configuration.policyDirectory else { return (Policies(), nil) }
        let warn = configuration.warn
        let failures = PolicyFailureLog(clock: configuration.clock.now, warn: warn)
        let registry = try PolicyRegistry(directory: directory, clock: configuration.clock.now, failures: failures)
        guard configuration.watchPolicies else { return (Policies(registry: registry), nil) }
        registry.onReload = { status in
            if let error = status.lastError {
                warn("policies not reloaded, keeping version \(status.version): \(error)")
            }
        }
        do {
            return (Policies(registry: registry), try PolicyWatcher(registry: registry))
        } catch {
            warn("\(directory) is not watched, so edits take effect only when keep starts again: \(error)")
            return (Policies(registry: registry), nil)
        }
    }
}
