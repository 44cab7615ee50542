import KeepCore
import KeepPolicy

/// Loads a process's policy folder, and watches it when asked.
enum PolicyLoader {
    /// The folder's policies, or the built-in defaults (the same limits as
    /// the shipped scripts) when there is none. A watched folder's edits take
    /// effect while the process runs; a failed reload keeps the last good set
    /// and is reported through `warn`, as is a watcher that cannot start
    /// (the process then runs on the set it loaded).
    static func load(_ configuration: RuntimeConfiguration) throws -> (policies: Policies, watcher: PolicyWatcher?) {
        guard let directory = configuration.policyDirectory else { return (Policies(), nil) }
        let registry = try PolicyRegistry(directory: directory, clock: configuration.clock.now)
        guard configuration.watchPolicies else { return (Policies(registry: registry), nil) }
        let warn = configuration.warn
        registry.onReload = { status in
            if let error = status.lastError {
                warn("policies not reloaded, keeping version \(status.version): \(error)")
            }
        }
        do {
            return (Policies(registry: registry), try PolicyWatcher(registry: registry))
        } catch {
            warn("policies in \(directory) are not watched (\(error)); edits take effect at the next start")
            return (Policies(registry: registry), nil)
        }
    }
}
