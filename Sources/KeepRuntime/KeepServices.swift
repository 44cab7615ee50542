import KeepCore
import KeepPolicy
import KeepStore
import Synchronization

/// The composition root: one backend, one policy set and the services over
/// them, built the same way for every command (`run`, the REPL, `migrate`,
/// `jobs`, `serve`), so that no command wires its own.
public final class KeepServices: Sendable {
    /// Everything the backend offers (migrations and copies need more than the services).
    public let storage: any BackendStorage
    public let policies: Policies
    public let sessions: SessionService
    public let snapshots: SnapshotService
    public let jobs: JobRunner
    public let configuration: RuntimeConfiguration
    private let backend: DatabaseBackend
    private let watcher: PolicyWatcher?
    private let closed = Mutex(false)

    /// Opens the backend `configuration.database` names and loads the policy
    /// folder (watching it when asked). Policies load first: a broken folder
    /// fails before a database file is created.
    public init(_ configuration: RuntimeConfiguration) throws {
        self.configuration = configuration
        let loaded = try PolicyLoader.load(configuration)
        policies = loaded.policies
        watcher = loaded.watcher
        do {
            backend = try DatabaseBackend(try DatabaseLocation(configuration.database), readOnly: configuration.readOnly,
                                          longRunning: configuration.longRunning, notice: configuration.notice)
        } catch {
            loaded.watcher?.stop()
            throw error
        }
        storage = backend.storage
        sessions = SessionService(storage: storage, validator: policies.validator, clock: configuration.clock)
        let warn = configuration.warn
        snapshots = SnapshotService(storage: storage, validator: policies.validator, visits: policies.visits,
                                    clock: configuration.clock, diagnostics: { warn($0) })
        jobs = JobRunner(storage: storage, schedule: policies.retry, visits: policies.visits, clock: configuration.clock,
                         holder: configuration.holder)
    }

    /// Stops watching policies and closes the backend (SQLite folds its
    /// write-ahead log into the file, so the file alone holds everything).
    /// Runs once; later calls do nothing.
    public func close() throws {
        guard closed.withLock({ done in defer { done = true }; return !done }) else { return }
        watcher?.stop()
        try backend.close()
    }
}
