import KeepCore
import KeepStore
import PostgresNIO

extension PostgresBackend: SessionStorage {
    public func insertSession(_ session: Session) async throws {
        _ = try await rows("create a session", InsertSession(session: session))
    }

    public func session(id: ResourceID, owner: UserID) async throws -> Session? {
        try await rows("read a session", SelectSession(owner: owner, id: id)).first.map(Self.session(from:))
    }

    public func sessionMetadata(id: ResourceID, owner: UserID) async throws -> SessionMetadata? {
        try await rows("read a session", """
            SELECT \(unescaped: StoredColumns.sessionMetadata) FROM sessions WHERE owner = \(owner) AND id = \(id.rawValue)
            """).first.map { row in
                var columns = ColumnReader(row)
                return try Self.sessionMetadata(from: &columns)
            }
    }

    public func replaceSession(_ session: Session, ifVersion version: Int64) async throws -> Bool {
        try await !rows("update a session", ReplaceSession(session: session, ifVersion: version)).isEmpty
    }

    public func deleteSession(id: ResourceID, owner: UserID, version: Int64?) async throws -> Bool {
        try await !rows("delete a session", """
            DELETE FROM sessions WHERE owner = \(owner) AND id = \(id.rawValue)
              AND (\(version)::bigint IS NULL OR version = \(version)) RETURNING id
            """).isEmpty
    }

    public func sessions(owner: UserID, matching query: SessionQuery, after cursor: PageCursor?,
                         limit: Int) async throws -> [Session] {
        try await rows("list sessions", ListingPlan(owner: owner, query: query, after: cursor, limit: limit).postgres)
            .map(Self.session(from:))
    }

    /// A row of `StoredColumns.session`, read by position.
    static func session(from row: PostgresRow) throws -> Session {
        var columns = ColumnReader(row)
        return Session(try sessionMetadata(from: &columns), content: try columns.next())
    }

    /// The columns of `StoredColumns.sessionMetadata`, next in `columns`.
    static func sessionMetadata(from columns: inout ColumnReader) throws -> SessionMetadata {
        SessionMetadata(id: try ResourceID(try columns.next()), owner: try columns.next(), title: try columns.next(),
                        description: try columns.next(), hash: ContentHash(storedHex: try columns.next()),
                        version: try columns.next(),
                        createdAt: Timestamp(millisecondsSinceEpoch: try columns.next()),
                        updatedAt: Timestamp(millisecondsSinceEpoch: try columns.next()))
    }
}
