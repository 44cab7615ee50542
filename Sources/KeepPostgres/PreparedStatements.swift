import KeepCore
import KeepStore
import PostgresNIO

/// A statement PostgreSQL parses and plans once per connection (a named
/// prepared statement), then only binds and runs: for the one-row reads and
/// writes that run most. Parsing and planning a small statement costs the
/// server more than running it, so a read by key sent as an unnamed
/// statement (what `PostgresQuery` sends) runs at under half the rate.
///
/// The statements name their tables without a schema: each connection's
/// `search_path` is the backend's schema, and a statement is prepared on
/// each connection separately. (A pooler in transaction mode must keep
/// prepared statements per client, e.g. PgBouncer's `max_prepared_statements`.)
///
/// Each names itself (`name`): the driver's default name is the type's
/// reflected name, built anew on every call.
protocol PreparedRowsStatement: PostgresPreparedStatement where Row == PostgresRow {}

extension PreparedRowsStatement {
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

extension PostgresBackend {
    /// Runs a prepared statement and returns its rows: on the connection
    /// kept for one-row statements when it is free, else on a pooled one.
    func rows<Statement: PreparedRowsStatement>(_ doing: String, _ statement: Statement) async throws -> [PostgresRow] {
        do {
            if let rows = try await dedicated.rows(statement) { return rows }
            return try await client.execute(statement, logger: Self.logger).reduce(into: []) { $0.append($1) }
        } catch {
            throw Self.keepError(error, doing: doing, location: location)
        }
    }
}

struct SelectSession: PreparedRowsStatement {
    static let name = "keep_select_session"
    static let sql = "SELECT \(StoredColumns.session) FROM sessions WHERE owner = $1 AND id = $2"
    let owner: UserID
    let id: ResourceID

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(owner)
        bindings.append(id.rawValue)
        return bindings
    }
}

struct InsertSession: PreparedRowsStatement {
    static let name = "keep_insert_session"
    static let sql = """
        INSERT INTO sessions (id, owner, title, title_key, description, content, hash, version, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """
    let session: Session

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 10)
        bindings.append(session.id.rawValue)
        bindings.append(session.owner)
        bindings.appendDocument(session)
        bindings.append(session.version)
        bindings.append(session.createdAt.millisecondsSinceEpoch)
        bindings.append(session.updatedAt.millisecondsSinceEpoch)
        return bindings
    }
}

/// Writes a session only if it is still at the version read (`RETURNING`
/// tells whether it was).
struct ReplaceSession: PreparedRowsStatement {
    static let name = "keep_replace_session"
    static let sql = """
        UPDATE sessions SET title = $3, title_key = $4, description = $5, content = $6, hash = $7,
          version = $8, updated_at = $9
        WHERE owner = $1 AND id = $2 AND version = $10
        RETURNING version
        """
    let session: Session
    let ifVersion: Int64

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 10)
        bindings.append(session.owner)
        bindings.append(session.id.rawValue)
        bindings.appendDocument(session)
        bindings.append(session.version)
        bindings.append(session.updatedAt.millisecondsSinceEpoch)
        bindings.append(ifVersion)
        return bindings
    }
}

extension PostgresBindings {
    /// A session's title, title key, description, content and hash, in that order.
    mutating func appendDocument(_ session: Session) {
        append(session.title.bytes)
        append(session.title.titleKey.bytes)
        append(session.description?.bytes)
        append(session.content.bytes)
        append(session.hash.hex)
    }
}

struct SelectSnapshot: PreparedRowsStatement {
    static let name = "keep_select_snapshot"
    static let sql = "SELECT \(StoredColumns.snapshot) FROM snapshots WHERE id = $1"
    let id: ResourceID

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(id.rawValue)
        return bindings
    }
}
