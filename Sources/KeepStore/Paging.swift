import KeepCore

/// Keyset paging shared by every listing: page size rule, signed tokens, one
/// extra row fetched to know whether another page follows.
enum Paging {
    static func page<Item: PagedItem>(
        _ query: ListQuery<Item.Field>, for user: UserID, secret: [UInt8],
        fetch: (PageCursor?, Int) async throws -> [Item]
    ) async throws -> Page<Item> {
        let codec = PageTokenCodec(secret: secret)
        let fingerprint = query.fingerprint(owner: user)
        let after = try query.pageToken.map { token throws(KeepError) in try codec.decode(token, fingerprint: fingerprint) }
        let size = PageSize.resolve(query.pageSize)
        var rows = try await fetch(after, size + 1)
        var next: String?
        if rows.count > size {
            rows.removeLast(rows.count - size)
            next = codec.encode(rows[rows.count - 1].cursor(sortedBy: query.sortBy), fingerprint: fingerprint)
        }
        return Page(items: rows, nextToken: next)
    }
}

/// An item of a listing: where the page after it starts. The sort value is
/// the one the field's column (`StoredSortField.column`) holds for the item.
protocol PagedItem: Sendable {
    associatedtype Field: SortField
    func cursor(sortedBy field: Field) -> PageCursor
}

extension Session: PagedItem {
    func cursor(sortedBy field: SessionSortField) -> PageCursor {
        switch field {
        case .title: PageCursor(value: .text(title.titleKey), id: id)
        case .createdAt: PageCursor(value: .integer(createdAt.millisecondsSinceEpoch), id: id)
        case .updatedAt: PageCursor(value: .integer(updatedAt.millisecondsSinceEpoch), id: id)
        }
    }
}

extension Snapshot: PagedItem {
    func cursor(sortedBy field: SnapshotSortField) -> PageCursor {
        switch field {
        case .title: PageCursor(value: .text(title.titleKey), id: id)
        case .createdAt: PageCursor(value: .integer(createdAt.millisecondsSinceEpoch), id: id)
        }
    }
}

extension AccessLog: PagedItem {
    func cursor(sortedBy field: AccessLogSortField) -> PageCursor {
        switch field {
        case .lastVisitedAt: PageCursor(value: .integer(lastVisitedAt.millisecondsSinceEpoch), id: snapshotID)
        case .visits: PageCursor(value: .integer(visits), id: snapshotID)
        case .title: PageCursor(value: .text(snapshotTitle.titleKey), id: snapshotID)
        case .createdAt: PageCursor(value: .integer(snapshotCreatedAt.millisecondsSinceEpoch), id: snapshotID)
        }
    }
}
