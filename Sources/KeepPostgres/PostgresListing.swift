import KeepCore
import PostgresNIO

/// Builds the keyset-paged SELECT of a listing, with the same semantics as
/// the SQLite backend's `ListingSQL` (the conformance suite checks both):
/// filters, the sort column then the id in one direction, rows after the
/// cursor. Column names come from the backend's own tables (`Columns`),
/// never from the request; values are bound. Title keys are `bytea` and ids
/// `COLLATE "C"`, so both compare by bytes as in SQLite.
struct PostgresListing {
    /// The columns a listing filters and sorts on.
    struct Columns {
        var select: String
        var table: String
        var owner: String
        var id: String
        var titleKey: String
        var createdAt: String
        var updatedAt: String? = nil
        var lastVisitedAt: String? = nil
        var snapshotOwner: String? = nil
        var deleted: String? = nil
    }

    private var bindings = PostgresBindings()

    /// `$n` for a new bound value.
    private mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
        bindings.append(value)
        return "$\(bindings.count)"
    }

    static func select<Field>(_ columns: Columns, owner: UserID, query: ListQuery<Field>, sortColumn: String,
                              after cursor: PageCursor?, limit: Int) -> PostgresQuery {
        var listing = PostgresListing()
        var conditions = ["\(columns.owner) = \(listing.bind(owner))"]
        if let text = query.titleContains, !text.isEmpty {
            conditions.append("position(\(listing.bind(text.titleKey.bytes)) IN \(columns.titleKey)) > 0")
        }
        let ranges: [(String?, Timestamp?, String)] = [
            (columns.createdAt, query.createdFrom, ">="), (columns.createdAt, query.createdTo, "<="),
            (columns.updatedAt, query.updatedFrom, ">="), (columns.updatedAt, query.updatedTo, "<="),
            (columns.lastVisitedAt, query.lastVisitedFrom, ">="), (columns.lastVisitedAt, query.lastVisitedTo, "<="),
        ]
        for case let (column?, bound?, comparison) in ranges {
            conditions.append("\(column) \(comparison) \(listing.bind(bound.millisecondsSinceEpoch))")
        }
        if let column = columns.snapshotOwner, let owner = query.owner {
            conditions.append("\(column) = \(listing.bind(owner))")
        }
        if let column = columns.deleted, let deleted = query.deleted {
            conditions.append("\(column) = \(listing.bind(deleted))")
        }
        let descending = query.direction == .descending
        if let cursor {
            let comparison = descending ? "<" : ">"
            let value = switch cursor.value {
            case .text(let text): listing.bind(text.bytes)
            case .integer(let number): listing.bind(number)
            }
            let id = listing.bind(cursor.id.rawValue)
            conditions.append("(\(sortColumn) \(comparison) \(value) OR (\(sortColumn) = \(value) AND \(columns.id) \(comparison) \(id)))")
        }
        let direction = descending ? "DESC" : "ASC"
        let sql = """
            SELECT \(columns.select) FROM \(columns.table)
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY \(sortColumn) \(direction), \(columns.id) \(direction)
            LIMIT \(listing.bind(Int64(limit)))
            """
        return PostgresQuery(unsafeSQL: sql, binds: listing.bindings)
    }
}
