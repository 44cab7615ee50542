import KeepCore
import KeepPolicy
import KeepSQLite
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
            backend = try DatabaseBackend(configuration.database, readOnly: configuration.readOnly,
                                          warn: configuration.warn)
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

/// The storage a database location (`--db`, `$KEEP_DB`) names, with how to close it.
public struct DatabaseBackend: Sendable {
    public let storage: any BackendStorage
    public let close: @Sendable () throws -> Void

    /// Opens the database at `location`; `warn` hears when opening must wait
    /// for another connection.
    public init(_ location: String, readOnly: Bool = false, warn: @escaping @Sendable (String) -> Void) throws {
        let sqlite = try SQLiteBackend(path: location, readOnly: readOnly, notice: { warn($0) })
        storage = sqlite
        close = { try sqlite.close() }
    }
}
