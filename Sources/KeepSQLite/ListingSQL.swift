import GRDB
import KeepCore

/// Builds the keyset-paged SELECT of a listing. Column names come from the
/// backend's own tables (`Columns`), never from the request; values are bound.
struct ListingSQL {
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

    static func select<Field>(_ columns: Columns, owner: UserID, query: ListQuery<Field>, sortColumn: String,
                              after cursor: PageCursor?, limit: Int) -> (String, StatementArguments) {
        var conditions = ["\(columns.owner) = ?"]
        var arguments: StatementArguments = [owner]
        if let text = query.titleContains, !text.isEmpty {
            conditions.append("instr(\(columns.titleKey), ?) > 0")
            arguments += [text.titleKey]
        }
        let ranges: [(String?, Timestamp?, String)] = [
            (columns.createdAt, query.createdFrom, ">="), (columns.createdAt, query.createdTo, "<="),
            (columns.updatedAt, query.updatedFrom, ">="), (columns.updatedAt, query.updatedTo, "<="),
            (columns.lastVisitedAt, query.lastVisitedFrom, ">="), (columns.lastVisitedAt, query.lastVisitedTo, "<="),
        ]
        for case let (column?, bound?, comparison) in ranges {
            conditions.append("\(column) \(comparison) ?")
            arguments += [bound.millisecondsSinceEpoch]
        }
        if let column = columns.snapshotOwner, let owner = query.owner {
            conditions.append("\(column) = ?")
            arguments += [owner]
        }
        if let column = columns.deleted, let deleted = query.deleted {
            conditions.append("\(column) = ?")
            arguments += [deleted]
        }
        let descending = query.direction == .descending
        if let cursor {
            let comparison = descending ? "<" : ">"
            conditions.append("(\(sortColumn) \(comparison) ? OR (\(sortColumn) = ? AND \(columns.id) \(comparison) ?))")
            let value: any DatabaseValueConvertible = switch cursor.value {
            case .text(let text): text
            case .integer(let number): number
            }
            arguments += [value, value, cursor.id.rawValue]
        }
        let direction = descending ? "DESC" : "ASC"
        arguments += [limit]
        let sql = """
            SELECT \(columns.select) FROM \(columns.table)
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY \(sortColumn) \(direction), \(columns.id) \(direction)
            LIMIT ?
            """
        return (sql, arguments)
    }
}
