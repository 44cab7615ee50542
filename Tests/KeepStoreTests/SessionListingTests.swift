import KeepCore
import KeepStore
import KeepTestSupport
import Testing

/// Listing rules of SPEC §1, run against every backend.
@Suite struct SessionListingTests {
    /// Creates `count` sessions for ana (titles in mixed case) and 3 for bob.
    func seed(_ service: SessionService, count: Int) async throws -> [Session] {
        var created: [Session] = []
        for i in 0 ..< count {
            let title = (i % 2 == 0 ? "alpha " : "Beta ") + String(i)
            created.append(try await service.create(as: "ana", title: title, content: "\(i)"))
        }
        for i in 0 ..< 3 { _ = try await service.create(as: "bob", title: "bob \(i)", content: "") }
        return created
    }

    func all(_ service: SessionService, _ query: SessionQuery, as user: UserID = "ana") async throws -> [Session] {
        var query = query
        var items: [Session] = []
        while true {
            let page = try await service.list(as: user, query)
            items += page.items
            guard let next = page.nextToken else { return items }
            query.pageToken = next
        }
    }

    @Test(arguments: BackendKind.allCases)
    func pageSizeRule(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        _ = try await seed(service, count: 130)
        var query = SessionQuery()
        #expect(try await service.list(as: "ana", query).items.count == 20)
        query.pageSize = 0
        #expect(try await service.list(as: "ana", query).items.count == 20)
        query.pageSize = 500
        let big = try await service.list(as: "ana", query)
        #expect(big.items.count == 100 && big.nextToken != nil)
        query.pageSize = 7
        #expect(try await service.list(as: "ana", query).items.count == 7)
    }

    @Test(arguments: BackendKind.allCases)
    func pagingVisitsEveryRowOnceInOrderAndNeverAnotherUsers(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let created = try await seed(service, count: 45)
        for field in SessionSortField.allCases {
            for direction in [SortDirection.ascending, .descending] {
                var query = SessionQuery()
                query.sortBy = field
                query.direction = direction
                query.pageSize = 7
                let items = try await all(service, query)
                #expect(items.count == 45)
                #expect(Set(items.map(\.id)) == Set(created.map(\.id)))
                #expect(items.allSatisfy { $0.owner == "ana" })
                let keys = items.map { SessionListingTests.key($0, field) }
                let sorted = keys.sorted { direction == .ascending ? $0 < $1 : $0 > $1 }
                #expect(keys == sorted, "\(field) \(direction)")
            }
        }
    }

    static func key(_ session: Session, _ field: SessionSortField) -> SortKey {
        switch field {
        case .title: SortKey(text: session.title.lowercased(), number: 0, id: session.id.rawValue)
        case .createdAt: SortKey(text: "", number: session.createdAt.millisecondsSinceEpoch, id: session.id.rawValue)
        case .updatedAt: SortKey(text: "", number: session.updatedAt.millisecondsSinceEpoch, id: session.id.rawValue)
        }
    }

    struct SortKey: Comparable {
        var text: String
        var number: Int64
        var id: String
        static func < (a: SortKey, b: SortKey) -> Bool {
            if a.text != b.text { return a.text.utf8.lexicographicallyPrecedes(b.text.utf8) }
            if a.number != b.number { return a.number < b.number }
            return a.id.utf8.lexicographicallyPrecedes(b.id.utf8)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func titleSortIgnoresCase(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        for title in ["banana", "Apple", "cherry", "apricot", "Blueberry"] {
            _ = try await service.create(as: "ana", title: title, content: "")
        }
        var query = SessionQuery()
        query.sortBy = .title
        query.direction = .ascending
        let titles = try await service.list(as: "ana", query).items.map(\.title)
        #expect(titles == ["Apple", "apricot", "banana", "Blueberry", "cherry"])
    }

    @Test(arguments: BackendKind.allCases)
    func tamperedOrForeignTokensAreInvalid(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        _ = try await seed(service, count: 30)
        var query = SessionQuery()
        query.pageSize = 5
        let token = try #require(try await service.list(as: "ana", query).nextToken)
        // Tampered: flip one character of the payload.
        var bytes = Array(token.utf8)
        bytes[5] = bytes[5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        var tampered = query
        tampered.pageToken = String(decoding: bytes, as: UTF8.self)
        await expectError(.invalid) { try await service.list(as: "ana", tampered) }
        for garbage in ["", "1", "1..", "2.abc.def", "not a token at all"] {
            tampered.pageToken = garbage
            await expectError(.invalid) { try await service.list(as: "ana", tampered) }
        }
        // Another query (other sort, other filter) or another user.
        var other = query
        other.pageToken = token
        other.sortBy = .title
        await expectError(.invalid) { try await service.list(as: "ana", other) }
        other = query
        other.pageToken = token
        other.titleContains = "alpha"
        await expectError(.invalid) { try await service.list(as: "ana", other) }
        other = query
        other.pageToken = token
        let error = await #expect(throws: KeepError.self) { try await service.list(as: "bob", other) }
        #expect(error?.message == "page_token is not valid for this listing; start again without it")
        // The same query with another page size is the same listing.
        other = query
        other.pageToken = token
        other.pageSize = 10
        #expect(try await service.list(as: "ana", other).items.count == 10)
    }

    @Test(arguments: BackendKind.allCases)
    func pagingIsStableUnderConcurrentInserts(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let created = try await seed(service, count: 20)
        var query = SessionQuery()
        query.pageSize = 5
        query.sortBy = .createdAt
        query.direction = .ascending
        var seen: [ResourceID] = []
        var page = try await service.list(as: "ana", query)
        while true {
            seen += page.items.map(\.id)
            _ = try await service.create(as: "ana", title: "late", content: "")  // sorts after everything seen
            guard let next = page.nextToken else { break }
            query.pageToken = next
            page = try await service.list(as: "ana", query)
        }
        #expect(Array(seen.prefix(20)) == created.map(\.id))
        #expect(Set(seen).count == seen.count)
    }

    @Test(arguments: BackendKind.allCases)
    func filters(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let created = try await seed(service, count: 10)
        var query = SessionQuery()
        query.titleContains = "ALPHA"
        query.pageSize = 100
        #expect(try await service.list(as: "ana", query).items.count == 5)
        query.titleContains = "100%"
        #expect(try await service.list(as: "ana", query).items.isEmpty)
        query = SessionQuery()
        query.createdFrom = created[2].createdAt
        query.createdTo = created[5].createdAt
        #expect(Set(try await service.list(as: "ana", query).items.map(\.id)) == Set(created[2 ... 5].map(\.id)))
        let touched = try await service.update(as: "ana", id: created[0].id, SessionChanges(title: "touched"))
        query = SessionQuery()
        query.updatedFrom = touched.updatedAt
        #expect(try await service.list(as: "ana", query).items.map(\.id) == [touched.id])
    }

    @Test func unknownSortFieldsAndDirectionsAreInvalid() throws {
        expectErrorNow(.invalid) { try SessionSortField(parsing: "owner; DROP TABLE sessions") }
        let error = #expect(throws: KeepError.self) { try SessionSortField(parsing: "size") }
        #expect(error?.message == "unknown sort field 'size'; sessions sort by title, created_at, updated_at")
        expectErrorNow(.invalid) { try SortDirection(parsing: "sideways", default: .ascending) }
        #expect(try SessionSortField(parsing: nil) == .updatedAt)
    }
}
