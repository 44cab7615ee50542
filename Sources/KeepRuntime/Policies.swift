import KeepCore
import KeepPolicy

/// The decisions policies make, for every service of one process: the
/// built-in defaults, or a (hot-reloadable) policy folder's.
public struct Policies: Sendable {
    public var validator: any DocumentValidator
    public var visits: any VisitPolicy
    public var retry: any RetrySchedule
    public var save: any SavePolicy
    /// The loaded policy folder, when there is one (for `keep.policy.status()`, `/readyz`).
    public var registry: PolicyRegistry?

    public init(validator: any DocumentValidator = DefaultValidation(), visits: any VisitPolicy = IntervalVisitPolicy(),
                retry: any RetrySchedule = DefaultRetrySchedule(), save: any SavePolicy = DefaultSavePolicy()) {
        self.validator = validator
        self.visits = visits
        self.retry = retry
        self.save = save
    }

    /// The policies of a policy folder.
    public init(registry: PolicyRegistry) {
        self.init(validator: registry, visits: registry, retry: registry, save: registry)
        self.registry = registry
    }
}
