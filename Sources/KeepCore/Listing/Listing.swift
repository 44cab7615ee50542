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

/// A field a resource's listings sort by; never spliced into SQL (backends map
/// each case to a column).
public protocol SortField: RawRepresentable<String>, CaseIterable, Sendable, Equatable {
    /// The resource's name in messages ("sessions").
    static var resource: String { get }
    static var defaultField: Self { get }
    static var defaultDirection: SortDirection { get }
}

extension SortField {
    public init(parsing text: String?) throws(KeepError) {
        guard let text else { self = Self.defaultField; return }
        guard let field = Self(rawValue: text) else {
            throw KeepError(.invalid, "unknown sort field '\(text)'; \(Self.resource) sort by "
                + Self.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = field
    }
}

/// The fields sessions sort by (SPEC §1): `title` ignores case.
public enum SessionSortField: String, SortField {
    case title
    case createdAt = "created_at"
    case updatedAt = "updated_at"

    public static let resource = "sessions"
    public static let defaultField = SessionSortField.updatedAt
    public static let defaultDirection = SortDirection.descending
}

/// The fields snapshots sort by.
public enum SnapshotSortField: String, SortField {
    case title
    case createdAt = "created_at"

    public static let resource = "snapshots"
    public static let defaultField = SnapshotSortField.createdAt
    public static let defaultDirection = SortDirection.descending
}

/// The fields access logs sort by (`title` and `created_at` are the snapshot's).
public enum AccessLogSortField: String, SortField {
    case lastVisitedAt = "last_visited_at"
    case visits
    case title
    case createdAt = "created_at"

    public static let resource = "access logs"
    public static let defaultField = AccessLogSortField.lastVisitedAt
    public static let defaultDirection = SortDirection.descending
}

/// A listing request, as scripts and the API give it. Which filters a
/// resource accepts is decided where requests are parsed.
public struct ListQuery<Field: SortField>: Sendable, Equatable {
    public var sortBy: Field = Field.defaultField
    public var direction: SortDirection = Field.defaultDirection
    public var pageSize: Int?
    public var pageToken: String?
    /// Case-insensitive substring of the title.
    public var titleContains: String?
    /// Inclusive bounds.
    public var createdFrom: Timestamp?
    public var createdTo: Timestamp?
    public var updatedFrom: Timestamp?
    public var updatedTo: Timestamp?
    public var lastVisitedFrom: Timestamp?
    public var lastVisitedTo: Timestamp?
    /// Access logs: the snapshot's owner.
    public var owner: UserID?
    /// Access logs: whether the snapshot was deleted.
    public var deleted: Bool?

    public init() {}

    /// The part of the query a page token is bound to (everything but the
    /// page size and the token itself), with the user it lists for.
    public func fingerprint(owner user: UserID) -> String {
        func text(_ value: Timestamp?) -> String { value.map { String($0.millisecondsSinceEpoch) } ?? "-" }
        let parts: [String] = [
            Field.resource, user, sortBy.rawValue, direction.rawValue, titleContains?.titleKey ?? "-",
            text(createdFrom), text(createdTo), text(updatedFrom), text(updatedTo),
            text(lastVisitedFrom), text(lastVisitedTo), owner ?? "-", deleted.map { $0 ? "1" : "0" } ?? "-",
        ]
        return parts.joined(separator: "\u{1F}")
    }
}

public typealias SessionQuery = ListQuery<SessionSortField>
public typealias SnapshotQuery = ListQuery<SnapshotSortField>
public typealias AccessLogQuery = ListQuery<AccessLogSortField>

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
