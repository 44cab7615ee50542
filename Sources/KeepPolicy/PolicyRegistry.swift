import KeepCore
import Synchronization

/// The policy set in force, swapped atomically on reload (SPEC §4 "Hot reload").
///
/// A reload loads the whole folder into a fresh `PolicySet` and only then
/// swaps it in; on any error the previous set stays active and the error is
/// kept in `status`. Callers take the current set once per decision, so a
/// call in flight finishes on the set it started with.
public final class PolicyRegistry: Sendable {
    /// What `keep.policy.status()` reports.
    public struct Status: Sendable, Equatable {
        /// Increases with every successful load (1 for the first).
        public var version: Int
        public var directory: String
        public var files: [String]
        public var loadedAt: Timestamp
        /// The last failed reload's error (file:line and message), cleared by a successful one.
        public var lastError: String?
        /// Reloads that failed since the process started (the previous set stayed in force each time).
        public var reloadFailures = 0
        /// Hooks that failed at run time and fell back to the built-in default, by hook.
        public var failures: [PolicyFailure] = []
    }

    /// What a reload swaps, under one lock.
    private struct State {
        var set: PolicySet
        var status: Status
        var onReload: (@Sendable (Status) -> Void)?
    }

    private let guarded: Mutex<State>
    private let clock: @Sendable () -> Timestamp
    /// Shared by every set this registry loads: counts survive reloads.
    public let failures: PolicyFailureLog

    /// Called after every reload attempt (the log line of SPEC §4), on the
    /// thread that reloads (the policy watcher's); may be set from any thread.
    public var onReload: (@Sendable (Status) -> Void)? {
        get { guarded.withLock { $0.onReload } }
        set { guarded.withLock { $0.onReload = newValue } }
    }

    /// `failures` defaults to a log that counts without warning.
    public init(directory: String, clock: @escaping @Sendable () -> Timestamp,
                failures: PolicyFailureLog? = nil) throws(KeepError) {
        self.clock = clock
        let failures = failures ?? PolicyFailureLog(clock: clock)
        self.failures = failures
        let set = try PolicySet(directory: directory, clock: clock, failures: failures)
        guarded = Mutex(State(set: set, status: Status(version: 1, directory: directory, files: set.files,
                                                       loadedAt: set.loadedAt, lastError: nil)))
    }

    /// The set in force now.
    public var current: PolicySet { guarded.withLock { $0.set } }

    public var status: Status {
        var status = guarded.withLock { $0.status }
        status.failures = failures.failures
        return status
    }

    /// Loads the folder again; swaps the new set in only if it loads completely.
    @discardableResult
    public func reload() -> Status {
        let directory = status.directory
        let loaded = Result { () throws(KeepError) in try PolicySet(directory: directory, clock: clock, failures: failures) }
        let (reloaded, onReload) = guarded.withLock { state in
            switch loaded {
            case .success(let fresh):
                state.set = fresh
                state.status = Status(version: state.status.version + 1, directory: directory, files: fresh.files,
                                      loadedAt: fresh.loadedAt, lastError: nil, reloadFailures: state.status.reloadFailures)
            case .failure(let error):
                state.status.lastError = error.message
                state.status.reloadFailures += 1
            }
            return (state.status, state.onReload)
        }
        var result = reloaded
        result.failures = failures.failures
        onReload?(result)
        return result
    }
}

extension PolicyRegistry: DocumentValidator, RetrySchedule, VisitPolicy {
    public func validate(_ candidate: DocumentCandidate) throws(KeepError) { try current.validate(candidate) }

    public func delay(kind: JobKind, attempt: Int, error: String) -> Int64? {
        current.delay(kind: kind, attempt: attempt, error: error)
    }

    public func shouldCount(_ log: AccessLog, now: Timestamp) -> Bool { current.shouldCount(log, now: now) }
}
