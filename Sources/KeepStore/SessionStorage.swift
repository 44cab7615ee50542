import KeepCore

/// What a storage backend provides for sessions. Every method is atomic (one
/// transaction). Backends store and return what they are given; the rules
/// (ownership, validation, hashing, versions) live in `SessionService`, so
/// that every backend behaves the same — the conformance suite checks it.
///
/// Async so that a PostgreSQL driver (postgres-nio) can implement it as is.
public protocol SessionStorage: Sendable {
    func insertSession(_ session: Session) async throws

    /// The owner's session, or nil (absent, or someone else's).
    func session(id: ResourceID, owner: UserID) async throws -> Session?

    /// The owner's session without its content, or nil.
    func sessionMetadata(id: ResourceID, owner: UserID) async throws -> SessionMetadata?

    /// Writes `session` over the stored row of the same id and owner, only
    /// if that row is still at `version` (what the caller read): one
    /// conditional write, so no lock is held while the caller decided what
    /// to write (a policy ran). False when nothing was written (the session
    /// moved on, or is gone).
    func replaceSession(_ session: Session, ifVersion version: Int64) async throws -> Bool

    /// Deletes the owner's session, only if it is at `version` when one is
    /// given; false when nothing was deleted (no such session, or another version).
    func deleteSession(id: ResourceID, owner: UserID, version: Int64?) async throws -> Bool

    /// Up to `limit` of the owner's sessions matching `query`'s filters, in
    /// its order (ties broken by id in the same direction), after `cursor`.
    func sessions(owner: UserID, matching query: SessionQuery, after cursor: PageCursor?,
                  limit: Int) async throws -> [Session]

    /// A secret of this database for signing page tokens, created with the
    /// schema; backends read it once, so that listing never writes.
    func tokenSecret() async throws -> [UInt8]
}

extension SessionStorage {
    /// The whole row, less its content: for a backend (or a test's wrapper)
    /// without a cheaper read.
    public func sessionMetadata(id: ResourceID, owner: UserID) async throws -> SessionMetadata? {
        try await session(id: id, owner: owner)?.metadata
    }
}
