import Foundation
import KeepCore

/// The policy set in force, swapped atomically on reload (SPEC §4 "Hot reload").
///
/// A reload loads the whole folder into a fresh `PolicySet` and only then
/// swaps it in; on any error the previous set stays active and the error is
/// kept in `status`. Callers take the current set once per decision, so a
/// call in flight finishes on the set it started with.
public final class PolicyRegistry: @unchecked Sendable {
    /// What `keep.policy.status()` reports.
    public struct Status: Sendable, Equatable {
        /// Increases with every successful load (1 for the first).
        public var version: Int
        public var directory: String
        public var files: [String]
        public var loadedAt: Timestamp
        /// The last failed reload's error (file:line and message), cleared by a successful one.
        public var lastError: String?
        /// Hooks that failed at run time and fell back to the built-in default, by hook.
        public var failures: [PolicyFailure] = []
    }

    private let lock = NSLock()
    private var set: PolicySet
    private var currentStatus: Status
    private let clock: @Sendable () -> Timestamp
    /// Shared by every set this registry loads: counts survive reloads.
    public let failures: PolicyFailureLog
    /// Called after every reload attempt (the log line of SPEC §4).
    public var onReload: (@Sendable (Status) -> Void)?

    /// `failures` defaults to a log that counts without warning.
    public init(directory: String, clock: @escaping @Sendable () -> Timestamp,
                failures: PolicyFailureLog? = nil) throws(KeepError) {
        self.clock = clock
        let failures = failures ?? PolicyFailureLog(clock: clock)
        self.failures = failures
        set = try PolicySet(directory: directory, clock: clock, failures: failures)
        currentStatus = Status(version: 1, directory: directory, files: set.files, loadedAt: set.loadedAt, lastError: nil)
    }

    /// The set in force now.
    public var current: PolicySet {
        lock.lock()
        defer { lock.unlock() }
        return set
    }

    public var status: Status {
        lock.lock()
        var status = currentStatus
        lock.unlock()
        status.failures = failures.failures
        return status
    }

    /// Loads the folder again; swaps the new set in only if it loads completely.
    @discardableResult
    public func reload() -> Status {
        let directory = status.directory
        var result: Status
        do {
            let fresh = try PolicySet(directory: directory, clock: clock, failures: failures)
            lock.lock()
            set = fresh
            currentStatus = Status(version: currentStatus.version + 1, directory: directory, files: fresh.files,
                                   loadedAt: fresh.loadedAt, lastError: nil)
            result = currentStatus
            lock.unlock()
        } catch {
            lock.lock()
            currentStatus.lastError = error.message
            result = currentStatus
            lock.unlock()
        }
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
