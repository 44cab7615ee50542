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
///
/// A statement gives its parameters once (`parameters`), for both of the
/// driver's ways to bind them: the pool's `PostgresBindings` and the
/// `PostgresData` list of the prepared-query API that `CallerDrivenConnection`
/// uses. That API labels the result columns as text although they arrive in
/// binary: read its rows only through `ColumnReader` or `RowReader`
/// (`PostgresCell.value`), never with `PostgresRow.decode`.
protocol PreparedRowsStatement: PostgresPreparedStatement where Row == PostgresRow {
    /// The values of `$1`, `$2`, … in order.
    var parameters: [StatementParameter] { get }
}

/// A value bound to one parameter of a statement.
enum StatementParameter {
    case text(String)
    /// Document text, stored as `bytea` (see `DocumentBytes`); nil is NULL.
    case document(String?)
    case integer(Int64)
}

extension PreparedRowsStatement {
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .text(let text): bindings.append(text)
            case .document(let text): bindings.append(text?.bytes)
            case .integer(let value): bindings.append(value)
            }
        }
        return bindings
    }

    /// The parameters as the driver's prepared-query API takes them.
    var parameterData: [PostgresData] {
        parameters.map { parameter in
            switch parameter {
            case .text(let text): PostgresData(string: text)
            case .document(let text): PostgresData(type: .bytea, value: text.map { ByteBuffer(string: $0) })
            case .integer(let value): PostgresData(int64: value)
            }
        }
    }
}

extension PostgresBackend {
    /// Runs a prepared statement and returns its rows: on the connection
    /// kept for one-row statements when it is free, else on a pooled one.
    func rows<Statement: PreparedRowsStatement>(_ doing: String, _ statement: Statement) async throws -> [PostgresRow] {
        do {
            if let rows = try dedicated.rows(statement) { return rows }
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

    var parameters: [StatementParameter] { [.text(owner), .text(id.rawValue)] }
}

struct InsertSession: PreparedRowsStatement {
    static let name = "keep_insert_session"
    static let sql = """
        INSERT INTO sessions (id, owner, title, title_key, description, content, hash, version, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """
    let session: Session

    var parameters: [StatementParameter] {
        [.text(session.id.rawValue), .text(session.owner)] + session.documentParameters
            + [.integer(session.version), .integer(session.createdAt.millisecondsSinceEpoch),
               .integer(session.updatedAt.millisecondsSinceEpoch)]
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

    var parameters: [StatementParameter] {
        [.text(session.owner), .text(session.id.rawValue)] + session.documentParameters
            + [.integer(session.version), .integer(session.updatedAt.millisecondsSinceEpoch), .integer(ifVersion)]
    }
}

extension Session {
    /// Its title, title key, description, content and hash, in that order.
    var documentParameters: [StatementParameter] {
        [.document(title), .document(title.titleKey), .document(description), .document(content), .text(hash.hex)]
    }
}

struct SelectSnapshot: PreparedRowsStatement {
    static let name = "keep_select_snapshot"
    static let sql = "SELECT \(StoredColumns.snapshot) FROM snapshots WHERE id = $1"
    let id: ResourceID

    var parameters: [StatementParameter] { [.text(id.rawValue)] }
}
