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

/// How to turn a migrated document's content back into what it was: the
/// bytes the two texts share at the start and at the end are kept by
/// length, only the differing middle is stored. A migration that renames a
/// module changes a few lines, so its backup costs bytes, not a second copy
/// of every document. Applying checks nothing itself; rollbacks compare the
/// result's SHA-256 with the hash it had.
public struct ContentPatch: Sendable, Equatable {
    /// Bytes shared at the start.
    public var prefixLength: Int
    /// Bytes shared at the end (not overlapping the prefix).
    public var suffixLength: Int
    /// The previous content's bytes between them.
    public var middle: [UInt8]

    public init(prefixLength: Int, suffixLength: Int, middle: [UInt8]) {
        self.prefixLength = prefixLength
        self.suffixLength = suffixLength
        self.middle = middle
    }

    /// The patch that turns `new` back into `old`.
    public init(restoring old: String, from new: String) {
        var old = old, new = new
        (prefixLength, suffixLength, middle) = old.withUTF8 { before in
            new.withUTF8 { after in
                let limit = min(before.count, after.count)
                var prefix = 0
                var suffix = 0
                // Eight bytes at a time, then byte by byte.
                if let oldBase = before.baseAddress, let newBase = after.baseAddress {
                    let old = UnsafeRawPointer(oldBase), new = UnsafeRawPointer(newBase)
                    while prefix + 8 <= limit,
                          old.loadUnaligned(fromByteOffset: prefix, as: UInt64.self)
                            == new.loadUnaligned(fromByteOffset: prefix, as: UInt64.self) { prefix += 8 }
                    while prefix < limit, before[prefix] == after[prefix] { prefix += 1 }
                    while suffix + 8 <= limit - prefix,
                          old.loadUnaligned(fromByteOffset: before.count - suffix - 8, as: UInt64.self)
                            == new.loadUnaligned(fromByteOffset: after.count - suffix - 8, as: UInt64.self) {
                        suffix += 8
                    }
                }
                while suffix < limit - prefix, before[before.count - 1 - suffix] == after[after.count - 1 - suffix] {
                    suffix += 1
                }
                return (prefix, suffix, Array(before[prefix ..< before.count - suffix]))
            }
        }
    }

    /// The previous content, from the migrated one; nil when `new` is too
    /// short to be the text this patch was made from.
    public func apply(to new: String) -> String? {
        var new = new
        return new.withUTF8 { after -> String? in
            guard prefixLength + suffixLength <= after.count else { return nil }
            var bytes = [UInt8]()
            bytes.reserveCapacity(prefixLength + middle.count + suffixLength)
            bytes.append(contentsOf: after[0 ..< prefixLength])
            bytes.append(contentsOf: middle)
            bytes.append(contentsOf: after[(after.count - suffixLength)...])
            return String(validating: bytes, as: UTF8.self)
        }
    }
}
