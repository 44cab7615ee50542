/// Who acts: the user id every operation is performed as.
public typealias UserID = String

/// A user's private, editable workbench state (SPEC §1 "Sessions").
public struct Session: Equatable, Sendable {
    public var id: ResourceID
    public var owner: UserID
    public var title: String
    /// nil when absent or cleared.
    public var description: String?
    /// Opaque UTF-8 text, normally JSON.
    public var content: String
    public var hash: ContentHash
    /// 1 on create, +1 on every successful update.
    public var version: Int64
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(id: ResourceID, owner: UserID, title: String, description: String?, content: String,
                hash: ContentHash, version: Int64, createdAt: Timestamp, updatedAt: Timestamp) {
        self.id = id
        self.owner = owner
        self.title = title
        self.description = description
        self.content = content
        self.hash = hash
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A session without its content: what the metadata route and listings
/// answer, read without loading a content of up to 1.5 MiB.
public struct SessionMetadata: Equatable, Sendable {
    public var id: ResourceID
    public var owner: UserID
    public var title: String
    public var description: String?
    public var hash: ContentHash
    public var version: Int64
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(id: ResourceID, owner: UserID, title: String, description: String?, hash: ContentHash,
                version: Int64, createdAt: Timestamp, updatedAt: Timestamp) {
        self.id = id
        self.owner = owner
        self.title = title
        self.description = description
        self.hash = hash
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

extension Session {
    public init(_ metadata: SessionMetadata, content: String) {
        self.init(id: metadata.id, owner: metadata.owner, title: metadata.title, description: metadata.description,
                  content: content, hash: metadata.hash, version: metadata.version, createdAt: metadata.createdAt,
                  updatedAt: metadata.updatedAt)
    }

    public var metadata: SessionMetadata {
        SessionMetadata(id: id, owner: owner, title: title, description: description, hash: hash, version: version,
                        createdAt: createdAt, updatedAt: updatedAt)
    }
}

/// A partial update: only the fields given change (SPEC §1).
public struct SessionChanges: Equatable, Sendable {
    public var title: String?
    /// `.some(nil)` clears the description; nil leaves it.
    public var description: String??
    public var content: String?
    /// When given, the update fails with `conflict` unless the stored version is this one.
    public var expectedVersion: Int64?

    public init(title: String? = nil, description: String?? = nil, content: String? = nil,
                expectedVersion: Int64? = nil) {
        self.title = title
        self.description = description
        self.content = content
        self.expectedVersion = expectedVersion
    }

    public var isEmpty: Bool { title == nil && description == nil && content == nil }
}
