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

    /// Reads the owner's session, passes it to `transform`, and writes what
    /// `transform` returns, all in one transaction (the row stays locked
    /// between the read and the write). Returns nil when there is no such
    /// session; errors thrown by `transform` abort without writing.
    func updateSession(id: ResourceID, owner: UserID,
                       _ transform: @escaping @Sendable (Session) throws -> Session) async throws -> Session?

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
