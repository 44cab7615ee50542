import Foundation
import GRDB
import KeepCore
import KeepStore

extension SQLiteBackend: SessionStorage {
    public func insertSession(_ session: Session) async throws {
        try await write("create a session") { db in
            try db.cachedStatement(sql: """
                INSERT INTO sessions (id, owner, title, title_key, description, content, hash, version, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: Self.arguments(session))
        }
    }

    public func session(id: ResourceID, owner: UserID) async throws -> Session? {
        try await read("read a session") { db in try Self.fetchSession(db, id: id, owner: owner) }
    }

    public func sessionMetadata(id: ResourceID, owner: UserID) async throws -> SessionMetadata? {
        try await read("read a session") { db in
            try Self.fetchFirst(db.cachedStatement(sql: "SELECT \(StoredColumns.sessionMetadata) FROM sessions WHERE id = ? AND owner = ?"),
                                arguments: [id.rawValue, owner], Self.sessionMetadata(from:))
        }
    }

    public func replaceSession(_ session: Session, ifVersion version: Int64) async throws -> Bool {
        try await write("update a session") { db in
            try db.cachedStatement(sql: """
                UPDATE sessions SET title = ?, title_key = ?, description = ?, content = ?, hash = ?,
                  version = ?, updated_at = ?
                WHERE id = ? AND owner = ? AND version = ?
                """).execute(arguments: [session.title, session.title.titleKey, session.description, session.content,
                                 session.hash.hex, session.version, session.updatedAt.millisecondsSinceEpoch,
                                 session.id.rawValue, session.owner, version])
            return db.changesCount > 0
        }
    }

    public func deleteSession(id: ResourceID, owner: UserID, version: Int64?) async throws -> Bool {
        try await write("delete a session") { db in
            try db.execute(sql: "DELETE FROM sessions WHERE id = ? AND owner = ? AND (? IS NULL OR version = ?)",
                           arguments: [id.rawValue, owner, version, version])
            return db.changesCount > 0
        }
    }

    public func sessions(owner: UserID, matching query: SessionQuery, after cursor: PageCursor?,
                         limit: Int) async throws -> [Session] {
        let (sql, arguments) = ListingPlan(owner: owner, query: query, after: cursor, limit: limit).sqlite
        return try await read("list sessions") { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.session(from:))
        }
    }

    // MARK: Rows

    static func fetchSession(_ db: Database, id: ResourceID, owner: UserID) throws -> Session? {
        try fetchFirst(db.cachedStatement(sql: "SELECT \(StoredColumns.session) FROM sessions WHERE id = ? AND owner = ?"),
                       arguments: [id.rawValue, owner], session(from:))
    }

    /// A row of `StoredColumns.session`, read by position.
    static func session(from row: Row) throws -> Session {
        Session(try sessionMetadata(from: row), content: row[8])
    }

    /// A row that begins with `StoredColumns.sessionMetadata`, read by
    /// position (by name, GRDB looks each column up among the row's names).
    static func sessionMetadata(from row: Row) throws -> SessionMetadata {
        SessionMetadata(id: try ResourceID(row[0]), owner: row[1], title: row[2], description: row[3],
                        hash: ContentHash(storedHex: row[4]), version: row[5],
                        createdAt: Timestamp(millisecondsSinceEpoch: row[6]), updatedAt: Timestamp(millisecondsSinceEpoch: row[7]))
    }

    static func arguments(_ session: Session) -> StatementArguments {
        [session.id.rawValue, session.owner, session.title, session.title.titleKey, session.description,
         session.content, session.hash.hex, session.version, session.createdAt.millisecondsSinceEpoch,
         session.updatedAt.millisecondsSinceEpoch]
    }
}
