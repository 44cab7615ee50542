/// What a content migration (SPEC §7) changes.
public enum MigrationTarget: String, Sendable, CaseIterable {
    case sessions, snapshots, all

    /// The collections a run walks, in order.
    public var kinds: [DocumentKind] {
        switch self {
        case .sessions: [.session]
        case .snapshots: [.snapshot]
        case .all: [.session, .snapshot]
        }
    }
}

/// The two kinds of stored document.
public typealias DocumentKind = DocumentCandidate.Kind

/// One line of the migration ledger: what is known of a migration in this store.
public struct MigrationRecord: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Started and not finished: the next `up` resumes after the checkpoint.
        case running
        /// Stopped by a failing document (`--on-error stop`); the next `up` retries from the checkpoint.
        case failed
        case applied
        /// A rollback started and did not finish; the next `rollback` resumes it.
        case rollingBack = "rolling_back"
        /// Rolled back: pending again for `up`.
        case rolledBack = "rolled_back"
    }

    /// The file's number, four digits ("0001").
    public var id: String
    public var name: String
    public var description: String
    public var target: MigrationTarget
    /// SHA-256 of the file as it was applied (or acknowledged with --accept-changed).
    public var checksum: String
    public var state: State
    public var scanned: Int64 = 0
    public var changed: Int64 = 0
    public var failed: Int64 = 0
    /// The last document a committed batch processed; nil before the first batch.
    public var checkpoint: MigrationCheckpoint?
    /// Whether the previous content of changed documents is kept for rollback.
    public var keepsBackup: Bool
    public var startedAt: Timestamp
    public var finishedAt: Timestamp?
    /// Time spent in runs of this migration, summed over resumed runs.
    public var elapsedMilliseconds: Int64 = 0
    /// Why the last run stopped, when it failed.
    public var lastError: String?

    public init(id: String, name: String, description: String, target: MigrationTarget, checksum: String,
                state: State, keepsBackup: Bool, startedAt: Timestamp) {
        self.id = id
        self.name = name
        self.description = description
        self.target = target
        self.checksum = checksum
        self.state = state
        self.keepsBackup = keepsBackup
        self.startedAt = startedAt
    }
}

/// Where a run stands: the collection and the id of the last document
/// processed. Documents are walked in id order, collection by collection.
public struct MigrationCheckpoint: Sendable, Equatable {
    public var kind: DocumentKind
    public var id: ResourceID

    public init(kind: DocumentKind, id: ResourceID) {
        self.kind = kind
        self.id = id
    }
}

/// A stored session or snapshot as a migration sees it.
public struct MigrationDocument: Sendable, Equatable {
    public var kind: DocumentKind
    public var id: ResourceID
    public var owner: UserID
    public var title: String
    public var description: String?
    public var content: String
    public var hash: ContentHash

    public init(kind: DocumentKind, id: ResourceID, owner: UserID, title: String, description: String?,
                content: String, hash: ContentHash) {
        self.kind = kind
        self.id = id
        self.owner = owner
        self.title = title
        self.description = description
        self.content = content
        self.hash = hash
    }

    /// Whether `other` has this document's title, description and content.
    public func sameFields(as other: MigrationDocument) -> Bool {
        title == other.title && description == other.description && hash == other.hash
    }
}

/// What a migration's `up` made of one document.
public enum MigrationOutcome: Sendable, Equatable {
    /// Canonical content, title and description all as they were: nothing is written.
    case unchanged
    /// The document with its new fields (hash computed).
    case changed(MigrationDocument)
    /// `up` raised, or the result broke a rule; the message says which.
    case failed(String)
}

/// A document rewritten by a migration, with what it was before.
public struct MigrationChange: Sendable, Equatable {
    public var before: MigrationDocument
    public var after: MigrationDocument

    public init(before: MigrationDocument, after: MigrationDocument) {
        self.before = before
        self.after = after
    }
}

/// A document a migration could not process (`--on-error skip` records them).
public struct MigrationFailure: Sendable, Equatable {
    public var kind: DocumentKind
    public var id: ResourceID
    public var message: String

    public init(kind: DocumentKind, id: ResourceID, message: String) {
        self.kind = kind
        self.id = id
        self.message = message
    }
}

/// The migration lock's lease, as stored.
public struct MigrationLock: Sendable, Equatable {
    public var holder: String
    public var acquiredAt: Timestamp
    public var expiresAt: Timestamp

    public init(holder: String, acquiredAt: Timestamp, expiresAt: Timestamp) {
        self.holder = holder
        self.acquiredAt = acquiredAt
        self.expiresAt = expiresAt
    }
}
