import KeepCore

/// Sessions with the rules of SPEC §1 over any `SessionStorage`: ids, hashes,
/// versions, ownership (another user's session is `not_found`), validation
/// (hard ceilings, then the policy), optimistic concurrency, keyset paging.
public struct SessionService: Sendable {
    public let storage: any SessionStorage
    public let validator: any DocumentValidator
    public let clock: KeepClock

    public init(storage: any SessionStorage, validator: any DocumentValidator = DefaultValidation(),
                clock: KeepClock = .system) {
        self.storage = storage
        self.validator = validator
        self.clock = clock
    }

    public func create(as user: UserID, title: String, description: String? = nil,
                       content: String) async throws -> Session {
        try validator.admit(DocumentCandidate(kind: .session, operation: .create, owner: user,
                                              title: title, description: description, content: content))
        let now = clock.now()
        let session = Session(id: ResourceID.generate(), owner: user, title: title.trimmingWhitespace(),
                              description: description, content: content, hash: ContentHash(of: content),
                              version: 1, createdAt: now, updatedAt: now)
        try await storage.insertSession(session)
        return session
    }

    public func get(as user: UserID, id: ResourceID) async throws -> Session {
        guard let session = try await storage.session(id: id, owner: user) else { throw Self.notFound(id) }
        return session
    }

    /// The session without its content (not loaded from the database).
    public func metadata(as user: UserID, id: ResourceID) async throws -> SessionMetadata {
        guard let metadata = try await storage.sessionMetadata(id: id, owner: user) else { throw Self.notFound(id) }
        return metadata
    }

    /// Applies `changes` to the stored session. The policy validates the
    /// result outside any lock; the write then goes through only if the
    /// session is still at the version read. When another writer got there
    /// first, the changes are applied again to what it wrote (at most
    /// `updateAttempts` times) — unless the caller gave `expectedVersion`,
    /// which then answers `conflict`.
    public func update(as user: UserID, id: ResourceID, _ changes: SessionChanges) async throws -> Session {
        let now = clock.now()
        for _ in 0 ..< Self.updateAttempts {
            guard let stored = try await storage.session(id: id, owner: user) else { throw Self.notFound(id) }
            if let expected = changes.expectedVersion, expected != stored.version {
                throw KeepError(.conflict, "session \(id) is at version \(stored.version), not \(expected); reload it and apply your change again",
                                details: ["id": .text(id.rawValue), "version": .integer(stored.version)])
            }
            var next = stored
            if let title = changes.title { next.title = title }
            if let description = changes.description { next.description = description }
            if let content = changes.content {
                next.content = content
                next.hash = ContentHash(of: content)
            }
            try validator.admit(DocumentCandidate(kind: .session, operation: .update, owner: user, title: next.title,
                                                  description: next.description, content: next.content,
                                                  previous: stored))
            next.title = next.title.trimmingWhitespace()
            next.version = stored.version + 1
            next.updatedAt = max(now, stored.updatedAt)
            if try await storage.replaceSession(next, ifVersion: stored.version) { return next }
        }
        throw KeepError(.conflict, "session \(id) changed \(Self.updateAttempts) times while this update was being applied; try again",
                        details: ["id": .text(id.rawValue)])
    }

    /// How often an update without `expectedVersion` is applied again to a
    /// session that other writers keep changing, before it gives up.
    public static let updateAttempts = 16

    /// Deletes the session; with `expectedVersion`, only if it is at that
    /// version (`conflict` otherwise, and nothing is deleted).
    public func delete(as user: UserID, id: ResourceID, expectedVersion: Int64? = nil) async throws {
        guard try await storage.deleteSession(id: id, owner: user, version: expectedVersion) else {
            // Nothing deleted: say why (the delete itself was conditional, so this read only names the cause).
            if let expectedVersion, let stored = try await storage.session(id: id, owner: user) {
                throw KeepError(.conflict, "session \(id) is at version \(stored.version), not \(expectedVersion); nothing was deleted",
                                details: ["id": .text(id.rawValue), "version": .integer(stored.version)])
            }
            throw Self.notFound(id)
        }
    }

    public func list(as user: UserID, _ query: SessionQuery) async throws -> Page<Session> {
        try await Paging.page(query, for: user, secret: try await storage.tokenSecret()) { cursor, limit in
            try await storage.sessions(owner: user, matching: query, after: cursor, limit: limit)
        }
    }

    static func notFound(_ id: ResourceID) -> KeepError {
        KeepError(.notFound, "session \(id) not found", details: ["id": .text(id.rawValue)])
    }
}
