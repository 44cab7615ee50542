/// An immutable, shareable copy of a session (SPEC §1 "Snapshots"): anyone who
/// knows the id can read it; only its owner can delete it.
public struct Snapshot: Equatable, Sendable {
    public var id: ResourceID
    public var owner: UserID
    public var title: String
    public var description: String?
    public var content: String
    public var hash: ContentHash
    public var createdAt: Timestamp

    public init(id: ResourceID, owner: UserID, title: String, description: String?, content: String,
                hash: ContentHash, createdAt: Timestamp) {
        self.id = id
        self.owner = owner
        self.title = title
        self.description = description
        self.content = content
        self.hash = hash
        self.createdAt = createdAt
    }
}

/// One record per (visitor, snapshot): who visited which snapshot, how often,
/// with a copy of the snapshot's metadata taken when the record was created.
public struct AccessLog: Equatable, Sendable {
    public var visitor: UserID
    public var snapshotID: ResourceID
    public var snapshotOwner: UserID
    public var visits: Int64
    public var firstVisitedAt: Timestamp
    public var lastVisitedAt: Timestamp
    /// The snapshot's title, description, created_at and hash when the log was created.
    public var snapshotTitle: String
    public var snapshotDescription: String?
    public var snapshotCreatedAt: Timestamp
    public var snapshotHash: ContentHash
    public var snapshotDeleted: Bool
    public var snapshotDeletedAt: Timestamp?

    public init(visitor: UserID, snapshot: Snapshot, at time: Timestamp) {
        self.visitor = visitor
        snapshotID = snapshot.id
        snapshotOwner = snapshot.owner
        visits = 1
        firstVisitedAt = time
        lastVisitedAt = time
        snapshotTitle = snapshot.title
        snapshotDescription = snapshot.description
        snapshotCreatedAt = snapshot.createdAt
        snapshotHash = snapshot.hash
        snapshotDeleted = false
        snapshotDeletedAt = nil
    }

    public init(visitor: UserID, snapshotID: ResourceID, snapshotOwner: UserID, visits: Int64,
                firstVisitedAt: Timestamp, lastVisitedAt: Timestamp, snapshotTitle: String,
                snapshotDescription: String?, snapshotCreatedAt: Timestamp, snapshotHash: ContentHash,
                snapshotDeleted: Bool, snapshotDeletedAt: Timestamp?) {
        self.visitor = visitor
        self.snapshotID = snapshotID
        self.snapshotOwner = snapshotOwner
        self.visits = visits
        self.firstVisitedAt = firstVisitedAt
        self.lastVisitedAt = lastVisitedAt
        self.snapshotTitle = snapshotTitle
        self.snapshotDescription = snapshotDescription
        self.snapshotCreatedAt = snapshotCreatedAt
        self.snapshotHash = snapshotHash
        self.snapshotDeleted = snapshotDeleted
        self.snapshotDeletedAt = snapshotDeletedAt
    }
}
