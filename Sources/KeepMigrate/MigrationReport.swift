import KeepCore
import KeepStore

/// What a `migrate up`, `plan` or `rollback` did (or, dry, would do), one
/// entry per migration; `--json` prints it as is.
public struct MigrationReport: Sendable, Encodable {
    public struct Entry: Sendable, Encodable {
        public var id: String
        public var file: String
        public var description: String
        public var target: String
        /// The ledger state after the run (`applied`, `failed`, `rolled_back`, …; `dry_run` when nothing was written).
        public var state: String
        /// Whether the run continued from a checkpoint left by an earlier one.
        public var resumed = false
        public var scanned: Int64 = 0
        public var changed: Int64 = 0
        public var failed: Int64 = 0
        public var elapsedMilliseconds: Int64 = 0
        /// Failing documents (the first hundred).
        public var failures: [Failure] = []
        /// A few changed documents, before and after (dry runs).
        public var samples: [Sample] = []
        /// For rollbacks.
        public var restored: Int64?
        public var conflicts: Int64?
        public var gone: Int64?
        public var error: String?
        /// What `up` did that has no effect (returning a value, changing `doc.id`), each once.
        public var warnings: [String] = []

        enum CodingKeys: String, CodingKey {
            case id, file, description, target, state, resumed, scanned, changed, failed
            case elapsedMilliseconds = "elapsed_ms"
            case failures, samples, restored, conflicts, gone, error, warnings
        }
    }

    public struct Failure: Sendable, Encodable, Equatable {
        public var kind: String
        public var id: String
        public var message: String
    }

    public struct Sample: Sendable, Encodable {
        public var kind: String
        public var id: String
        public var title: Change?
        public var description: Change?
        /// Changed lines of the canonical content, `-` before and `+` after.
        public var content: [String]

        public struct Change: Sendable, Encodable {
            public var before: String?
            public var after: String?
        }
    }

    public var dryRun: Bool
    public var migrations: [Entry] = []

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run"
        case migrations
    }

    public static let failureLimit = 100

    static func failures(_ failures: [MigrationFailure]) -> [Failure] {
        failures.prefix(failureLimit).map { Failure(kind: $0.kind.rawValue, id: $0.id.rawValue, message: $0.message) }
    }
}

/// What the runner says while it works (the command line draws it).
public struct MigrationProgress: Sendable {
    public var id: String
    public var file: String
    public var done: Int64
    public var total: Int64
    public var changed: Int64
    public var failed: Int64
    /// Since this run of the migration started (resumed work excluded).
    public var elapsedSeconds: Double
    /// Documents processed by this run (for the rate).
    public var processedThisRun: Int64
    public var finished: Bool
}
