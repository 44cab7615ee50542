/// Sort directions of listings.
public enum SortDirection: String, Sendable {
    case ascending = "asc"
    case descending = "desc"

    public init(parsing text: String?, default fallback: SortDirection) throws(KeepError) {
        guard let text else { self = fallback; return }
        guard let direction = SortDirection(rawValue: text.lowercased()) else {
            throw KeepError(.invalid, "unknown direction '\(text)'; use 'asc' or 'desc'")
        }
        self = direction
    }
}

/// The fields sessions sort by (SPEC §1): `title` ignores case.
public enum SessionSortField: String, Sendable, CaseIterable {
    case title
    case createdAt = "created_at"
    case updatedAt = "updated_at"

    public init(parsing text: String?) throws(KeepError) {
        guard let text else { self = .updatedAt; return }
        guard let field = SessionSortField(rawValue: text) else {
            throw KeepError(.invalid, "unknown sort field '\(text)'; sessions sort by "
                + Self.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = field
    }
}

/// A listing request for sessions, as scripts and the API give it.
public struct SessionQuery: Sendable, Equatable {
    public var sortBy: SessionSortField = .updatedAt
    public var direction: SortDirection = .descending
    public var pageSize: Int?
    public var pageToken: String?
    /// Case-insensitive substring of the title.
    public var titleContains: String?
    /// Inclusive bounds.
    public var createdFrom: Timestamp?
    public var createdTo: Timestamp?
    public var updatedFrom: Timestamp?
    public var updatedTo: Timestamp?

    public init() {}

    /// The part of the query a page token is bound to (everything but the
    /// page size and the token itself).
    public func fingerprint(owner: UserID) -> String {
        let parts: [String] = [
            "sessions", owner, sortBy.rawValue, direction.rawValue, titleContains?.lowercased() ?? "-",
            createdFrom.map { String($0.millisecondsSinceEpoch) } ?? "-",
            createdTo.map { String($0.millisecondsSinceEpoch) } ?? "-",
            updatedFrom.map { String($0.millisecondsSinceEpoch) } ?? "-",
            updatedTo.map { String($0.millisecondsSinceEpoch) } ?? "-",
        ]
        return parts.joined(separator: "\u{1F}")
    }
}

/// The position after the last row of a page: its sort value and id (keyset
/// pagination, stable under concurrent inserts).
public struct PageCursor: Sendable, Equatable {
    public enum SortValue: Sendable, Equatable {
        case text(String)
        case integer(Int64)
    }

    public var value: SortValue
    public var id: ResourceID

    public init(value: SortValue, id: ResourceID) {
        self.value = value
        self.id = id
    }
}

/// One page of a listing; `nextToken` is nil on the last page.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextToken: String?

    public init(items: [Item], nextToken: String?) {
        self.items = items
        self.nextToken = nextToken
    }
}

extension String {
    /// The key titles sort and filter by: lower case, compared by UTF-8 bytes
    /// in every backend (SQLite BINARY, PostgreSQL COLLATE "C").
    public var titleKey: String { lowercased() }
}
