import Foundation
import KeepCore

/// A listing's query string, as the reference system names its parameters
/// (SPEC §8, snake_case): `cursor`, `page_size`, `sort_by`,
/// `sort_direction`, `sort_lowercase`, and the `filter_…` parameters each
/// resource takes. Unknown parameters are ignored (as the reference does);
/// a value that cannot be read answers 400.
struct ListParameters {
    private var values: [String: String] = [:]

    /// Parses `query` (`a=1&b=x+y`): `+` is a space, `%XX` escapes are
    /// decoded; a later repeat of a name wins.
    init(query: String?) throws(APIError) {
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) throws(APIError) -> String {
                guard let value = text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw APIError.badRequest("the query has a malformed %-escape in '\(text.prefix(60))'")
                }
                return value
            }
            values[try decoded(parts[0])] = parts.count > 1 ? try decoded(parts[1]) : ""
        }
    }

    /// The sessions' listing: `sort_by` is `metadata.created_at`,
    /// `metadata.updated_at` or `metadata.title`; filters by title, created and updated times.
    func sessionQuery() throws(APIError) -> SessionQuery {
        var query: SessionQuery = try common(Self.sessionSortValues)
        query.updatedFrom = try time("filter_updated_from")
        query.updatedTo = try time("filter_updated_to")
        return query
    }

    /// The snapshots' listing: `sort_by` is `created_at`, `updated_at` (a
    /// snapshot never changes, so its creation), `title` or `title_lower`.
    /// `filter_updated_from/_to` narrow the creation time likewise.
    func snapshotQuery() throws(APIError) -> SnapshotQuery {
        var query: SnapshotQuery = try common(Self.snapshotSortValues)
        if let from = try time("filter_updated_from") { query.createdFrom = max(query.createdFrom ?? from, from) }
        if let to = try time("filter_updated_to") { query.createdTo = min(query.createdTo ?? to, to) }
        return query
    }

    /// The access logs' listing: `sort_by` is `visits`, `last_visited_at`,
    /// `snapshot_metadata.title`, `snapshot_metadata.title__lower` or
    /// `snapshot_metadata.created_at`; filters by the snapshot's title,
    /// creation time and owner, the last visit, and whether it was deleted
    /// (listed unless `filter_snapshot_deleted=false`).
    func accessLogQuery() throws(APIError) -> AccessLogQuery {
        var query: AccessLogQuery = try common(Self.accessLogSortValues)
        query.lastVisitedFrom = try time("filter_last_visited_from")
        query.lastVisitedTo = try time("filter_last_visited_to")
        query.owner = values["filter_owner_id"].flatMap { $0.isEmpty ? nil : $0 }
        query.deleted = try flag("filter_snapshot_deleted")
        return query
    }

    /// The `sort_by` values each listing takes (the OpenAPI document's
    /// enums): the reference's, and for sessions its fields' short names too.
    static let sessionSortValues: KeyValuePairs<String, SessionSortField> = [
        "metadata.created_at": .createdAt, "metadata.updated_at": .updatedAt, "metadata.title": .title,
        "created_at": .createdAt, "updated_at": .updatedAt, "title": .title,
    ]
    static let snapshotSortValues: KeyValuePairs<String, SnapshotSortField> = [
        "created_at": .createdAt, "updated_at": .createdAt, "title": .title, "title_lower": .title,
    ]
    static let accessLogSortValues: KeyValuePairs<String, AccessLogSortField> = [
        "visits": .visits, "last_visited_at": .lastVisitedAt, "snapshot_metadata.title": .title,
        "snapshot_metadata.title__lower": .title, "snapshot_metadata.created_at": .createdAt,
    ]

    private func common<Field: SortField>(_ sortValues: KeyValuePairs<String, Field>) throws(APIError) -> ListQuery<Field> {
        var query = ListQuery<Field>()
        if let sortBy = nonEmpty("sort_by") {
            guard let field = sortValues.first(where: { $0.key == sortBy })?.value else {
                throw APIError.badRequest("unknown sort_by '\(sortBy.prefix(60))'; \(Field.resource) sort by "
                    + sortValues.map(\.key).joined(separator: ", "), details: ["parameter": "sort_by"])
            }
            query.sortBy = field
        }
        do {
            // Titles read A to Z unless asked otherwise; other fields newest first.
            query.direction = try SortDirection(parsing: nonEmpty("sort_direction"),
                                                default: query.sortBy.rawValue == "title" ? .ascending : Field.defaultDirection)
        } catch {
            throw APIError.badRequest("sort_direction: \(error.message)", details: ["parameter": "sort_direction"])
        }
        // `sort_lowercase` is accepted: title sorts always ignore case.
        _ = try flag("sort_lowercase")
        query.pageToken = nonEmpty("cursor")
        if let size = nonEmpty("page_size") {
            let digits = size.hasPrefix("-") ? size.dropFirst() : Substring(size)
            guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw APIError.badRequest("page_size '\(size.prefix(60))' is not a whole number; pages hold 1 to \(PageSize.maximum) items (default \(PageSize.default))",
                                          details: ["parameter": "page_size"])
            }
            // Out of range is clamped by the listing rule (SPEC §1); digits past Int's range are "very large".
            query.pageSize = Int(size) ?? (size.hasPrefix("-") ? Int.min : Int.max)
        }
        query.titleContains = nonEmpty("filter_title")
        query.createdFrom = try time("filter_created_from")
        query.createdTo = try time("filter_created_to")
        return query
    }

    private func nonEmpty(_ name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    private func time(_ name: String) throws(APIError) -> Timestamp? {
        guard let text = nonEmpty(name) else { return nil }
        do {
            return try Timestamp(iso8601: text)
        } catch {
            throw APIError.badRequest("\(name): \(error.message)", details: ["parameter": .text(name)])
        }
    }

    private func flag(_ name: String) throws(APIError) -> Bool? {
        guard let text = nonEmpty(name) else { return nil }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default:
            throw APIError.badRequest("\(name) '\(text.prefix(60))' is not true or false", details: ["parameter": .text(name)])
        }
    }
}
