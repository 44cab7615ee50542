import Foundation
import KeepCore
import KeepPolicy
import KeepStore
import KeepWorkbench
import Testing

/// Two editors (two workbenches, each with its own connection to one
/// database, as two processes have) save the same session; the second save
/// follows save.lua's `on_conflict`.
@Suite("Working copies: conflicts follow on_conflict")
struct ConflictTests {
    let fixture: WorkbenchFixture
    init() throws { fixture = try WorkbenchFixture() }

    static func savePolicy(onConflict body: String) -> String {
        """
        return {
          autosave_debounce_ms = 200,
          poll_interval_ms = 10000,
          poll_when = function(activity) return activity ~= "hidden" end,
          on_conflict = function(info) \(body) end,
        }
        """
    }

    /// Renames dashboard `id` in the dashboards document.
    static func renaming(_ content: String, dashboard id: String, to name: String) -> String {
        let old = id == "d1" ? #""id":"d1","name":"Logs""# : #""id":"d2","name":"Map""#
        return content.replacingOccurrences(of: old, with: "\"id\":\"\(id)\",\"name\":\"\(name)\"")
    }

    /// Opens the session in two processes; the second saves a rename of d2
    /// first; the first has renamed `dashboard` and saves second.
    func race(onConflict body: String, firstRenames dashboard: String = "d1")
        async throws -> (first: WorkbenchFixture.Process, copy: WorkingCopy, session: Session, outcome: Result<Workbench.SaveOutcome, KeepError>) {
        try fixture.writeSavePolicy(Self.savePolicy(onConflict: body))
        let first = try fixture.process()
        let second = try fixture.process()
        let session = try await first.workbench.sessions.create(as: "alice", title: "Field study", content: WorkbenchFixture.dashboards)
        let mine = try await first.workbench.open(session.id, as: "alice")
        let theirs = try await second.workbench.open(session.id, as: "alice")
        try theirs.set(content: Self.renaming(theirs.content, dashboard: "d2", to: "Their map"))
        #expect(try await second.workbench.save(theirs) == .saved(.updated))
        try mine.set(content: Self.renaming(mine.content, dashboard: dashboard, to: "My name"))
        do {
            return (first, mine, session, .success(try await first.workbench.save(mine)))
        } catch let error as KeepError {
            return (first, mine, session, .failure(error))
        }
    }

    func stored(_ id: ResourceID?) async throws -> Session {
        let process = try fixture.process()
        return try await process.workbench.sessions.get(as: "alice", id: try #require(id))
    }

    @Test("reject: the save fails with conflict and the copy keeps its edits")
    func reject() async throws {
        let (_, copy, session, outcome) = try await race(onConflict: #"return "reject""#)
        guard case .failure(let error) = outcome else { Issue.record("expected a conflict, got \(outcome)"); return }
        #expect(error.code == .conflict && error.message.contains("reject"))
        #expect(copy.hasChanges && copy.outOfSync && copy.backendVersion == 2 && copy.baseVersion == 1)
        let stored = try await stored(session.id)
        #expect(stored.version == 2 && stored.content.contains("Their map") && !stored.content.contains("My name"))
    }

    @Test("overwrite: the copy replaces the newer stored version")
    func overwrite() async throws {
        let (_, copy, session, outcome) = try await race(onConflict: #"return "overwrite""#)
        #expect(try outcome.get() == .saved(.overwrote))
        let stored = try await stored(session.id)
        #expect(stored.version == 3 && stored.content == copy.content)
        #expect(stored.content.contains("My name") && !stored.content.contains("Their map"))
        #expect(!copy.hasChanges && !copy.outOfSync && copy.baseVersion == 3)
    }

    @Test("fork: the copy becomes a new session; the stored one is left alone")
    func fork() async throws {
        let (_, copy, session, outcome) = try await race(onConflict: #"return "fork""#)
        #expect(try outcome.get() == .saved(.forked))
        #expect(copy.sessionID != session.id && !copy.hasChanges && copy.baseVersion == 1)
        let original = try await stored(session.id)
        #expect(original.version == 2 && original.content.contains("Their map") && !original.content.contains("My name"))
        let forked = try await stored(copy.sessionID)
        #expect(forked.content.contains("My name") && !forked.content.contains("Their map"))
    }

    @Test("merge: edits to different dashboards are combined")
    func merge() async throws {
        let (_, copy, session, outcome) = try await race(onConflict: #"return "merge""#)
        #expect(try outcome.get() == .saved(.merged))
        let stored = try await stored(session.id)
        #expect(stored.version == 3 && stored.content.contains("Their map") && stored.content.contains("My name"))
        #expect(copy.content == stored.content && !copy.hasChanges && !copy.outOfSync)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(stored.content.utf8)) as? [String: Any])
        let names = (document["dashboards"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == ["My name", "Their map"])
    }

    @Test("merge: overlapping edits take the policy's second choice")
    func mergeOverlapFallsBack() async throws {
        let (_, copy, session, outcome) = try await race(onConflict: #"return "merge", "fork""#, firstRenames: "d2")
        #expect(try outcome.get() == .saved(.forked))
        #expect(try await stored(session.id).content.contains("Their map"))
        #expect(try await stored(copy.sessionID).content.contains("My name"))
    }

    @Test("merge: overlapping edits reject when the policy names no second choice")
    func mergeOverlapRejects() async throws {
        let (_, copy, _, outcome) = try await race(onConflict: #"return "merge""#, firstRenames: "d2")
        guard case .failure(let error) = outcome else { Issue.record("expected a conflict, got \(outcome)"); return }
        #expect(error.code == .conflict && copy.hasChanges)
    }

    @Test("on_conflict is told the versions and hashes")
    func conflictInfo() async throws {
        let (_, _, _, outcome) = try await race(onConflict: """
            if info.base_version == 1 and info.stored_version == 2 and #info.stored_hash == 64
               and info.local_hash ~= info.stored_hash and info.owner == "alice" then return "overwrite" end
            return "reject"
            """)
        #expect(try outcome.get() == .saved(.overwrote))
    }

    @Test("a broken on_conflict fails the save with a policy error and writes nothing")
    func brokenPolicy() async throws {
        let (_, copy, session, outcome) = try await race(onConflict: #"return "clobber""#)
        guard case .failure(let error) = outcome else { Issue.record("expected a policy error, got \(outcome)"); return }
        #expect(error.code == .policy && error.message.contains("\"merge\""))
        #expect(copy.hasChanges)
        #expect(try await stored(session.id).version == 2)
    }

    @Test("save.lua is hot-reloaded: the next conflict, debounce and poll follow the new file")
    func hotReload() async throws {
        try fixture.writeSavePolicy(Self.savePolicy(onConflict: #"return "reject""#))
        let registry = try fixture.registry()
        let first = try fixture.process(policy: registry)
        let second = try fixture.process(policy: registry)
        let session = try await first.workbench.sessions.create(as: "alice", title: "Field study", content: WorkbenchFixture.dashboards)
        let mine = try await first.workbench.open(session.id, as: "alice")
        let theirs = try await second.workbench.open(session.id, as: "alice")
        try theirs.set(content: Self.renaming(theirs.content, dashboard: "d2", to: "Their map"))
        _ = try await second.workbench.save(theirs)
        try mine.set(content: Self.renaming(mine.content, dashboard: "d1", to: "My name"))
        await #expect(throws: KeepError.self) { try await first.workbench.save(mine) }

        try fixture.writeSavePolicy("""
            return {
              autosave_debounce_ms = 1000,
              poll_interval_ms = 500,
              on_conflict = function() return "merge" end,
              on_activity = function(state) if state == "hidden" then return {"save"} end end,
            }
            """)
        #expect(registry.reload().lastError == nil)
        #expect(try await first.workbench.save(mine) == .saved(.merged))

        try mine.set(content: mine.content.replacingOccurrences(of: "My name", with: "Later"))
        fixture.clock.advance(milliseconds: 600)
        await first.workbench.timers.runDue()
        #expect(first.workbench.journal.entries(user: "alice").isEmpty, "the debounce is 1,000 ms now")
        fixture.clock.advance(milliseconds: 400)
        await first.workbench.timers.runDue()
        #expect(first.workbench.journal.entries(user: "alice").count == 1)

        // The poll interval is 500 ms now (the timer armed under the old file fires once more first).
        _ = try await second.workbench.sessions.update(as: "alice", id: session.id, SessionChanges(title: "Moved"))
        fixture.clock.advance(milliseconds: 10_000)
        await first.workbench.timers.runDue()
        let reads = first.storage.reads
        fixture.clock.advance(milliseconds: 500)
        await first.workbench.timers.runDue()
        #expect(first.storage.reads == reads + 1 && mine.outOfSync)
        try await first.workbench.reload(mine, discard: true)
        try mine.set(content: mine.content.replacingOccurrences(of: "My name", with: "Later"))

        first.workbench.activity.set(.hidden)
        await first.workbench.timers.runDue()
        #expect(!mine.hasChanges, "on_activity saved on going hidden")
        #expect(try await stored(session.id).content.contains("Later"))
        #expect(first.workbench.journal.entries(user: "alice").isEmpty)
    }
}
