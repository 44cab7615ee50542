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
            """).first.map { try Self.sessionMetadata(from: RowReader($0)) }
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

    static func session(from row: PostgresRow) throws -> Session {
        let row = RowReader(row)
        return Session(try sessionMetadata(from: row), content: try row["content"])
    }

    static func sessionMetadata(from row: RowReader) throws -> SessionMetadata {
        SessionMetadata(id: try row.id("id"), owner: try row["owner"], title: try row["title"],
                        description: try row["description"], hash: ContentHash(storedHex: try row["hash"]),
                        version: try row["version"], createdAt: try row.timestamp("created_at"),
                        updatedAt: try row.timestamp("updated_at"))
    }
}
