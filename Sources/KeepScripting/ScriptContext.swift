#if canImport(Glibc)
import Glibc
#endif
import KeepCore
import KeepPolicy
import KeepStore

/// What a script's `keep` table acts on: the acting user and the services.
///
/// The store is opened on first use, so a script that never touches it does
/// not create a database file.
public final class ScriptContext: @unchecked Sendable {
    /// The acting user (`keep.user`). Used only on the script's thread.
    public var user: UserID
    public let clock: KeepClock
    /// Names the job leases this process takes ("keep-run:<pid>").
    public let holder: String
    private let openStorage: () throws -> any KeepStorage
    private var opened: Services?

    struct Services {
        let policies: Policies
        let sessions: SessionService
        let snapshots: SnapshotService
        let jobs: JobRunner
    }

    /// The decisions policies make; the built-in defaults unless a policy set is given.
    public struct Policies: Sendable {
        public var validator: any DocumentValidator
        public var visits: any VisitPolicy
        public var retry: any RetrySchedule
        /// The loaded policy folder, when there is one (for `keep.policy.status()`).
        public var registry: PolicyRegistry?

        public init(validator: any DocumentValidator = DefaultValidation(), visits: any VisitPolicy = IntervalVisitPolicy(),
                    retry: any RetrySchedule = DefaultRetrySchedule()) {
            self.validator = validator
            self.visits = visits
            self.retry = retry
        }

        /// The policies of a (hot-reloadable) policy folder.
        public init(registry: PolicyRegistry) {
            self.init(validator: registry, visits: registry, retry: registry)
            self.registry = registry
        }
    }

    private let loadPolicies: () throws -> Policies

    /// `loadPolicies` runs with the store's first use, like `openStorage`, so
    /// a broken policy folder only stops scripts that write or read data.
    public init(user: UserID, clock: KeepClock = .system, holder: String,
                loadPolicies: @escaping () throws -> Policies = { Policies() },
                openStorage: @escaping () throws -> any KeepStorage) {
        self.user = user
        self.clock = clock
        self.holder = holder
        self.loadPolicies = loadPolicies
        self.openStorage = openStorage
    }

    var services: Services {
        get throws {
            if let opened { return opened }
            let policies = try loadPolicies()
            let storage = try openStorage()
            let services = Services(
                policies: policies,
                sessions: SessionService(storage: storage, validator: policies.validator, clock: clock),
                snapshots: SnapshotService(storage: storage, validator: policies.validator, visits: policies.visits,
                                           clock: clock, diagnostics: { message in ScriptDiagnostics.report(message) }),
                jobs: JobRunner(storage: storage, schedule: policies.retry, visits: policies.visits, clock: clock,
                                holder: holder))
            opened = services
            return services
        }
    }

    public var sessions: SessionService { get throws { try services.sessions } }
    public var snapshots: SnapshotService { get throws { try services.snapshots } }
    public var jobs: JobRunner { get throws { try services.jobs } }
    public var policies: Policies { get throws { try services.policies } }
}

/// Problems that must not fail a script (a visit that could not be logged)
/// are written to standard error.
enum ScriptDiagnostics {
    static func report(_ message: String) {
        var line = "keep: warning: " + message + "\n"
        line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
    }
}

