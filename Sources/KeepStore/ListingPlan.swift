import KeepCore

/// The table a resource's listings read and the columns they filter and sort
/// on. Column names come from here, never from the request.
public struct ListingTable: Sendable {
    public var select: String
    public var table: String
    public var owner: String
    public var id: String
    public var titleKey: String
    public var createdAt: String
    public var updatedAt: String? = nil
    public var lastVisitedAt: String? = nil
    public var snapshotOwner: String? = nil
    public var deleted: String? = nil
}

/// A sort field with the table its resource is listed from and the column
/// each field sorts by.
public protocol StoredSortField: SortField {
    static var listingTable: ListingTable { get }
    var column: String { get }
}

extension SessionSortField: StoredSortField {
    public static var listingTable: ListingTable {
        ListingTable(select: StoredColumns.session, table: "sessions", owner: "owner", id: "id",
                     titleKey: "title_key", createdAt: "created_at", updatedAt: "updated_at")
    }

    public var column: String {
        switch self {
        case .title: "title_key"
        case .createdAt: "created_at"
        case .updatedAt: "updated_at"
        }
    }
}

extension SnapshotSortField: StoredSortField {
    public static var listingTable: ListingTable {
        ListingTable(select: StoredColumns.snapshot, table: "snapshots", owner: "owner", id: "id",
                     titleKey: "title_key", createdAt: "created_at")
    }

    public var column: String {
        switch self {
        case .title: "title_key"
        case .createdAt: "created_at"
        }
    }
}

extension AccessLogSortField: StoredSortField {
    public static var listingTable: ListingTable {
        ListingTable(select: StoredColumns.accessLog, table: "access_logs", owner: "visitor", id: "snapshot_id",
                     titleKey: "snapshot_title_key", createdAt: "snapshot_created_at",
                     lastVisitedAt: "last_visited_at", snapshotOwner: "snapshot_owner", deleted: "snapshot_deleted")
    }

    public var column: String {
        switch self {
        case .lastVisitedAt: "last_visited_at"
        case .visits: "visits"
        case .title: "snapshot_title_key"
        case .createdAt: "snapshot_created_at"
        }
    }
}

/// A listing's keyset-paged SELECT as data: the owner's rows that pass the
/// filters, ordered by the sort column then the id in one direction, after
/// the cursor. Every backend runs the same plan; it only renders the SQL of
/// its dialect (`sql(bind:contains:)`) and binds the values.
public struct ListingPlan: Sendable, Equatable {
    /// A value the backend binds.
    public enum Value: Sendable, Equatable {
        /// A user id or other plain text.
        case text(String)
        /// A title key (`String.titleKey`): compared by UTF-8 bytes in every backend.
        case titleKey(String)
        case integer(Int64)
        case bool(Bool)
    }

    /// One condition of the WHERE clause.
    public enum Condition: Sendable, Equatable {
        /// `column <comparison> value`.
        case compare(column: String, comparison: String, Value)
        /// The title-key column holds `needle` as a substring.
        case contains(column: String, needle: Value)
        /// Rows after the cursor: `(sort, id) <comparison> (value, cursorID)`.
        case after(sortColumn: String, idColumn: String, comparison: String, value: Value, id: Value)
    }

    public var select: String
    public var table: String
    public var conditions: [Condition]
    public var sortColumn: String
    public var idColumn: String
    public var direction: SortDirection
    public var limit: Int

    public init<Field: StoredSortField>(owner: UserID, query: ListQuery<Field>, after cursor: PageCursor?, limit: Int) {
        let table = Field.listingTable
        var conditions: [Condition] = [.compare(column: table.owner, comparison: "=", .text(owner))]
        if let text = query.titleContains, !text.isEmpty {
            conditions.append(.contains(column: table.titleKey, needle: .titleKey(text.titleKey)))
        }
        let ranges: [(String?, Timestamp?, String)] = [
            (table.createdAt, query.createdFrom, ">="), (table.createdAt, query.createdTo, "<="),
            (table.updatedAt, query.updatedFrom, ">="), (table.updatedAt, query.updatedTo, "<="),
            (table.lastVisitedAt, query.lastVisitedFrom, ">="), (table.lastVisitedAt, query.lastVisitedTo, "<="),
        ]
        for case let (column?, bound?, comparison) in ranges {
            conditions.append(.compare(column: column, comparison: comparison, .integer(bound.millisecondsSinceEpoch)))
        }
        if let column = table.snapshotOwner, let owner = query.owner {
            conditions.append(.compare(column: column, comparison: "=", .text(owner)))
        }
        if let column = table.deleted, let deleted = query.deleted {
            conditions.append(.compare(column: column, comparison: "=", .bool(deleted)))
        }
        let sortColumn = query.sortBy.column
        if let cursor {
            let value: Value = switch cursor.value {
            case .text(let text): .titleKey(text)
            case .integer(let number): .integer(number)
            }
            conditions.append(.after(sortColumn: sortColumn, idColumn: table.id,
                                     comparison: query.direction == .descending ? "<" : ">",
                                     value: value, id: .text(cursor.id.rawValue)))
        }
        self.select = table.select
        self.table = table.table
        self.conditions = conditions
        self.sortColumn = sortColumn
        self.idColumn = table.id
        self.direction = query.direction
        self.limit = limit
    }

    /// The SELECT in a backend's dialect: `bind` returns the placeholder of
    /// a value it binds (called once per occurrence, in the order of the
    /// text), `contains` the test that a column holds a bound needle.
    public func sql(bind: (Value) -> String, contains: (_ column: String, _ needle: String) -> String) -> String {
        let clauses = conditions.map { condition in
            switch condition {
            case let .compare(column, comparison, value):
                return "\(column) \(comparison) \(bind(value))"
            case let .contains(column, needle):
                return contains(column, bind(needle))
            case let .after(sortColumn, idColumn, comparison, value, id):
                return "(\(sortColumn) \(comparison) \(bind(value)) OR (\(sortColumn) = \(bind(value)) "
                    + "AND \(idColumn) \(comparison) \(bind(id))))"
            }
        }
        let order = direction == .descending ? "DESC" : "ASC"
        return """
            SELECT \(select) FROM \(table)
            WHERE \(clauses.joined(separator: " AND "))
            ORDER BY \(sortColumn) \(order), \(idColumn) \(order)
            LIMIT \(bind(.integer(Int64(limit))))
            """
    }
}
