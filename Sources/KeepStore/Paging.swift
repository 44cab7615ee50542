import KeepCore

/// Keyset paging shared by every listing: page size rule, signed tokens, one
/// extra row fetched to know whether another page follows.
enum Paging {
    static func page<Field: SortField, Item: Sendable>(
        _ query: ListQuery<Field>, for user: UserID, secret: [UInt8],
        fetch: (PageCursor?, Int) async throws -> [Item], cursor: (Item) -> PageCursor
    ) async throws -> Page<Item> {
        let codec = PageTokenCodec(secret: secret)
        let fingerprint = query.fingerprint(owner: user)
        let after = try query.pageToken.map { token throws(KeepError) in try codec.decode(token, fingerprint: fingerprint) }
        let size = PageSize.resolve(query.pageSize)
        var rows = try await fetch(after, size + 1)
        var next: String?
        if rows.count > size {
            rows.removeLast(rows.count - size)
            next = codec.encode(cursor(rows[rows.count - 1]), fingerprint: fingerprint)
        }
        return Page(items: rows, nextToken: next)
    }
}
