import Foundation
import KeepCore
import KeepStore
import KeepTestSupport
import Synchronization
import Testing

/// The rules of SPEC §1 for sessions, written once and run against every backend.
@Suite struct SessionConformanceTests {
    @Test(arguments: BackendKind.allCases)
    func createThenGet(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let created = try await service.create(as: "ana", title: "  Q3 review  ", description: "numbers", content: "{\"a\":1}")
        #expect(created.title == "Q3 review")
        #expect(created.version == 1)
        #expect(created.hash.hex == "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862")
        #expect(created.createdAt == created.updatedAt)
        #expect(created.id.rawValue.utf8.count == 12)
        let read = try await service.get(as: "ana", id: created.id)
        #expect(read == created)
        #expect(try await service.metadata(as: "ana", id: created.id) == created.metadata)
        #expect(try await service.storage.sessionMetadata(id: created.id, owner: "bob") == nil, "another user's is not found")
        await expectError(.notFound) { try await service.metadata(as: "bob", id: created.id) }
    }

    @Test(arguments: BackendKind.allCases)
    func anotherUsersSessionIsNotFound(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let mine = try await service.create(as: "ana", title: "mine", content: "x")
        await expectError(.notFound) { try await service.get(as: "bob", id: mine.id) }
        await expectError(.notFound) {
            try await service.update(as: "bob", id: mine.id, SessionChanges(title: "taken"))
        }
        await expectError(.notFound) { try await service.delete(as: "bob", id: mine.id) }
        let missing = try ResourceID("AAAAAAAAAAAA")
        let error = await #expect(throws: KeepError.self) { try await service.get(as: "ana", id: missing) }
        #expect(error?.message == "session AAAAAAAAAAAA not found")
        #expect(try await service.get(as: "ana", id: mine.id).title == "mine")
        #expect(try await service.list(as: "bob", SessionQuery()).items.isEmpty)
    }

    @Test(arguments: BackendKind.allCases)
    func partialUpdatesChangeOnlyWhatIsGiven(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let created = try await service.create(as: "ana", title: "t", description: "d", content: "one")
        let retitled = try await service.update(as: "ana", id: created.id, SessionChanges(title: "t2"))
        #expect(retitled.title == "t2" && retitled.description == "d" && retitled.content == "one")
        #expect(retitled.hash == created.hash && retitled.version == 2)
        #expect(retitled.updatedAt > created.updatedAt && retitled.createdAt == created.createdAt)
        let rewritten = try await service.update(as: "ana", id: created.id, SessionChanges(content: "two"))
        #expect(rewritten.hash == ContentHash(of: "two") && rewritten.version == 3)
        let cleared = try await service.update(as: "ana", id: created.id, SessionChanges(description: .some(nil)))
        #expect(cleared.description == nil && cleared.version == 4)
        #expect(try await service.get(as: "ana", id: created.id) == cleared)
    }

    @Test(arguments: BackendKind.allCases)
    func staleExpectedVersionConflictsAndWritesNothing(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let created = try await service.create(as: "ana", title: "t", content: "one")
        _ = try await service.update(as: "ana", id: created.id, SessionChanges(content: "two", expectedVersion: 1))
        let error = await #expect(throws: KeepError.self) {
            try await service.update(as: "ana", id: created.id, SessionChanges(content: "three", expectedVersion: 1))
        }
        #expect(error?.code == .conflict)
        #expect(error?.message == "session \(created.id) is at version 2, not 1; reload it and apply your change again")
        let stored = try await service.get(as: "ana", id: created.id)
        #expect(stored.content == "two" && stored.version == 2)
    }

    @Test(arguments: BackendKind.allCases)
    func concurrentWritersWithExpectedVersionExactlyOneWins(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let created = try await service.create(as: "ana", title: "t", content: "base")
        let outcomes = await withTaskGroup(of: Result<Session, KeepError>.self) { group in
            for writer in 0 ..< 8 {
                group.addTask {
                    do {
                        return .success(try await service.update(
                            as: "ana", id: created.id, SessionChanges(content: "writer \(writer)", expectedVersion: 1)))
                    } catch let error as KeepError {
                        return .failure(error)
                    } catch {
                        return .failure(KeepError(.internal, "\(error)"))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let winners = outcomes.compactMap { try? $0.get() }
        #expect(winners.count == 1)
        #expect(outcomes.filter { if case .failure(let e) = $0 { e.code == .conflict } else { false } }.count == 7)
        let stored = try await service.get(as: "ana", id: created.id)
        #expect(stored == winners.first && stored.version == 2)
    }

    @Test(arguments: BackendKind.allCases)
    func contentLimitIsExactlyOnePointFiveMebibytes(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let limit = String(repeating: "x", count: 1_572_864)
        let accepted = try await service.create(as: "ana", title: "big", content: limit)
        #expect(accepted.content.utf8.count == 1_572_864)
        let error = await #expect(throws: KeepError.self) {
            try await service.create(as: "ana", title: "big", content: limit + "x")
        }
        #expect(error?.code == .tooLarge)
        #expect(error?.message == "content is 1572865 bytes; the limit is 1572864 bytes (1.50 MiB)")
        let much = await #expect(throws: KeepError.self) {
            try await service.update(as: "ana", id: accepted.id, SessionChanges(content: String(repeating: "y", count: 2_422_210)))
        }
        #expect(much?.message == "content is 2.31 MiB; the limit is 1.50 MiB")
        #expect(try await service.get(as: "ana", id: accepted.id).version == 1)
    }

    @Test(arguments: BackendKind.allCases)
    func titleAndDescriptionLimits(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        await expectError(.invalid) { try await service.create(as: "ana", title: "   ", content: "") }
        await expectError(.invalid) {
            try await service.create(as: "ana", title: String(repeating: "é", count: 51), content: "")
        }
        #expect(try await service.create(as: "ana", title: String(repeating: "é", count: 50), content: "").title.count == 50)
        await expectError(.invalid) {
            try await service.create(as: "ana", title: "t", description: String(repeating: "d", count: 251), content: "")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func storedHashEqualsSha256sum(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let content = "{\"dashboards\":[{\"name\":\"Ærø 📈\"}]}\n"
        let created = try await service.create(as: "ana", title: "hash", content: content)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("keep-hash-\(UUID().uuidString)")
        try Data(content.utf8).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(output.hasPrefix(created.hash.hex + " "))
    }

    @Test(arguments: BackendKind.allCases)
    func concurrentWritersWithoutExpectedVersionAllLand(_ kind: BackendKind) async throws {
        let service = try await makeService(kind)
        let created = try await service.create(as: "ana", title: "t", content: "base")
        let versions = try await withThrowingTaskGroup(of: Int64.self) { group in
            for writer in 0 ..< 8 {
                group.addTask {
                    try await service.update(as: "ana", id: created.id, SessionChanges(content: "writer \(writer)")).version
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(versions.sorted() == Array(2 ... 9))
        #expect(try await service.get(as: "ana", id: created.id).version == 9)
    }

    /// Another writer lands between an update's read and its write: the
    /// update is validated again on top of what it wrote, and neither change is lost.
    @Test(arguments: BackendKind.allCases)
    func anUpdateThatLostTheRaceIsAppliedAgainOnTopOfTheWinner(_ kind: BackendKind) async throws {
        let storage = RacedSessionStorage(try await kind.makeStorage())
        let validator = CountingValidator()
        let service = SessionService(storage: storage, validator: validator, clock: TestClock.stepping().clock)
        let created = try await service.create(as: "ana", title: "mine", content: "one")
        storage.interfereOnce { stored in
            var winner = stored
            winner.title = "theirs"
            winner.version += 1
            return winner
        }
        let updated = try await service.update(as: "ana", id: created.id, SessionChanges(content: "two"))
        #expect(updated.title == "theirs" && updated.content == "two" && updated.version == 3)
        #expect(try await service.get(as: "ana", id: created.id) == updated)
        #expect(validator.previousVersions == [1, 2], "validated once per attempt, against what was stored each time")

        storage.interfereOnce { stored in
            var winner = stored
            winner.content = "three"
            winner.version += 1
            return winner
        }
        let error = await #expect(throws: KeepError.self) {
            try await service.update(as: "ana", id: created.id, SessionChanges(content: "four", expectedVersion: 3))
        }
        #expect(error?.code == .conflict)
        #expect(error?.message == "session \(created.id) is at version 4, not 3; reload it and apply your change again")
        #expect(try await service.get(as: "ana", id: created.id).content == "three")
    }
}

/// Lets another writer's version land just before the next conditional write.
private final class RacedSessionStorage: SessionStorage {
    let base: any KeepStorage
    private let interference = Mutex<(@Sendable (Session) -> Session)?>(nil)

    init(_ base: any KeepStorage) { self.base = base }

    func interfereOnce(_ change: @escaping @Sendable (Session) -> Session) { interference.withLock { $0 = change } }

    func insertSession(_ session: Session) async throws { try await base.insertSession(session) }
    func session(id: ResourceID, owner: UserID) async throws -> Session? { try await base.session(id: id, owner: owner) }
    func replaceSession(_ session: Session, ifVersion version: Int64) async throws -> Bool {
        if let change = interference.withLock({ change in defer { change = nil }; return change }),
           let stored = try await base.session(id: session.id, owner: session.owner) {
            #expect(try await base.replaceSession(change(stored), ifVersion: stored.version))
        }
        return try await base.replaceSession(session, ifVersion: version)
    }
    func deleteSession(id: ResourceID, owner: UserID, version: Int64?) async throws -> Bool {
        try await base.deleteSession(id: id, owner: owner, version: version)
    }
    func sessions(owner: UserID, matching query: SessionQuery, after cursor: PageCursor?, limit: Int) async throws -> [Session] {
        try await base.sessions(owner: owner, matching: query, after: cursor, limit: limit)
    }
    func tokenSecret() async throws -> [UInt8] { try await base.tokenSecret() }
}

/// The default rules, remembering the stored version each update was checked against.
private final class CountingValidator: DocumentValidator {
    private let seen = Mutex<[Int64]>([])
    var previousVersions: [Int64] { seen.withLock { $0 } }

    func validate(_ candidate: DocumentCandidate) throws(KeepError) {
        if let previous = candidate.previous { seen.withLock { $0.append(previous.version) } }
        try DefaultValidation().validate(candidate)
    }
}
