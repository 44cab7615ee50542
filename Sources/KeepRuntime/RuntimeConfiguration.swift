import KeepCore
import KeepStore

/// What a process's service graph is built from: the command line's
/// `--db`, `--policies` and the acting process's identity.
public struct RuntimeConfiguration: Sendable {
    /// `--db` or `$KEEP_DB`: a file path, or a server URL.
    public var database: String
    /// The policy folder; nil runs on the built-in defaults.
    public var policyDirectory: String?
    /// Reload the policy folder when a file in it changes (`run`, the REPL, `serve`).
    public var watchPolicies: Bool
    /// Open for reading only (`migrate status`, dry runs).
    public var readOnly: Bool
    /// A service that idles between requests (`serve`, `jobs work`): on
    /// PostgreSQL, idle connections are pinged.
    public var longRunning = false
    /// Names the job and migration leases this process takes ("keep-run:<pid>").
    public var holder: String
    /// `--jobs` or `$KEEP_JOBS`: whether a job is attempted right after the
    /// operation that queued it, or left to `keep jobs work`.
    public var jobs: JobMode
    public var clock: KeepClock
    /// Where problems that must not stop the process go (a failed reload, a
    /// visit that could not be logged, waiting for a write lock): one line each.
    public var warn: @Sendable (String) -> Void
    /// Where notes on what the process is waiting for go (opening a database
    /// while another connection holds its write lock); `warn` when not given.
    public var notice: @Sendable (String) -> Void

    public init(database: String, policyDirectory: String? = nil, watchPolicies: Bool = false, readOnly: Bool = false,
                holder: String, jobs: JobMode = .inline, clock: KeepClock = .system, warn: @escaping @Sendable (String) -> Void,
                notice: (@Sendable (String) -> Void)? = nil) {
        self.database = database
        self.policyDirectory = policyDirectory
        self.watchPolicies = watchPolicies
        self.readOnly = readOnly
        self.holder = holder
        self.jobs = jobs
        self.clock = clock
        self.warn = warn
        self.notice = notice ?? warn
    }
}

/// When a job queued by an operation (a snapshot delete's log marking) runs.
public enum JobMode: String, Sendable, CaseIterable {
    /// At once, in the process that queued it; what fails stays queued (the default).
    case inline
    /// Only by workers (`keep jobs work`): the operation stores the job and returns.
    case queue
}
