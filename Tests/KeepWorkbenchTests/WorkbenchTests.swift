import Foundation
import KeepCore
import KeepPolicy
import KeepStore
import KeepWorkbench
import Testing

@Suite("Working copies: journal, save lock, polling")
struct WorkbenchTests {
    let fixture: WorkbenchFixture
    init() throws { fixture = try WorkbenchFixture() }

    func seed(_ process: WorkbenchFixture.Process, content: String = WorkbenchFixture.dashboards) async throws -> Session {
        try await process.workbench.sessions.create(as: "alice", title: "Field study", content: content)
    }

    @Test("edits reach the journal after the debounce, counted from the last edit")
    func debounce() async throws {
        let process = try fixture.process()
        let workbench = process.workbench
        let session = try await seed(process)
        let copy = try await workbench.open(session.id, as: "alice")
        try copy.set(content: #"{"step":1}"#)
        fixture.clock.advance(milliseconds: 150)
        await workbench.timers.runDue()
        #expect(workbench.recoverable(as: "alice").isEmpty && workbench.journal.entries(user: "alice").isEmpty)
        try copy.set(content: #"{"step":2}"#)
        fixture.clock.advance(milliseconds: 150)
        await workbench.timers.runDue()
        #expect(workbench.journal.entries(user: "alice").isEmpty, "a new edit restarts the debounce")
        fixture.clock.advance(milliseconds: 50)
        await workbench.timers.runDue()
        let entries = workbench.journal.entries(user: "alice")
        #expect(entries.map(\.content) == [#"{"step":2}"#])
        #expect(entries.first?.base?.version == 1 && entries.first?.sessionID == session.id.rawValue)
        #expect(!copy.journalPending)
    }

    @Test("a steady stream of edits is journaled at the latest ten debounces after the first")
    func debounceBound() async throws {
        let process = try fixture.process()
        let workbench = process.workbench
        let copy = try await workbench.open(try await seed(process).id, as: "alice")
        var written: Int?
        for step in 1 ... 15 {
            try copy.set(content: "{\"step\":\(step)}")
            fixture.clock.advance(milliseconds: 150)
            await workbench.timers.runDue()
            if written == nil, !workbench.journal.entries(user: "alice").isEmpty { written = step }
        }
        // First edit at 0 ms; the journal is due at 2,000 ms, reached after the 14th step (2,100 ms).
        #expect(written == 14)
    }

    @Test("editing back to the stored content leaves no changes and no journal entry")
    func editBack() async throws {
        let process = try fixture.process()
        let workbench = process.workbench
        let copy = try await workbench.open(try await seed(process).id, as: "alice")
        try copy.set(content: "{}")
        fixture.clock.advance(milliseconds: 250)
        await workbench.timers.runDue()
        #expect(workbench.journal.entries(user: "alice").count == 1)
        try copy.set(content: WorkbenchFixture.dashboards)
        #expect(!copy.hasChanges)
        fixture.clock.advance(milliseconds: 250)
        await workbench.timers.runDue()
        #expect(workbench.journal.entries(user: "alice").isEmpty)
        #expect(try await workbench.save(copy) == .noChanges)
    }

    @Test("a journal that cannot be written is reported, and the edits stay pending for the next try")
    func journalFailure() async throws {
        let blocker = fixture.directory + "/not-a-folder"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        let process = try fixture.process(journalRoot: blocker + "/recovery")
        let copy = try await process.workbench.open(try await seed(process).id, as: "alice")
        try copy.set(content: "{}")
        fixture.clock.advance(milliseconds: 250)
        await process.workbench.timers.runDue()
        #expect(process.diagnostics.all.contains { $0.contains("recovery journal") })
        #expect(copy.journalPending && copy.hasChanges)
    }

    @Test("close writes the journal first: when that fails the copy stays open with its edits")
    func closeWithFailingJournal() async throws {
        let blocker = fixture.directory + "/not-a-folder"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        let process = try fixture.process(journalRoot: blocker + "/recovery")
        let copy = try await process.workbench.open(try await seed(process).id, as: "alice")
        try copy.set(content: "{\"kept\":1}")
        #expect(throws: KeepError.self) { try process.workbench.close(copy, discard: false) }
        #expect(!copy.isClosed && copy.hasChanges && process.workbench.openCopies.count == 1)
        #expect(try await process.workbench.save(copy) == .saved(.updated))
    }

    @Test("a copy open in another process is not recovered; once closed there it is, under a new copy id")
    func recoveryOfACopyOpenElsewhere() async throws {
        let writer = try fixture.process()
        let copy = try await writer.workbench.open(try await seed(writer).id, as: "alice")
        try copy.set(content: "{\"a\":1}")
        try writer.workbench.writeJournal(copy)

        let other = try fixture.process()
        #expect(other.workbench.journal.isOpenElsewhere(copyID: copy.copyID))
        let error = await #expect(throws: KeepError.self) { try await other.workbench.recover(copy.copyID, as: "alice") }
        #expect(error?.code == .conflict && error?.message.contains("open in another process") == true)

        #expect(try writer.workbench.close(copy, discard: false) == .kept)
        #expect(!other.workbench.journal.isOpenElsewhere(copyID: copy.copyID))
        let recovered = try await other.workbench.recover(copy.copyID, as: "alice")
        #expect(recovered.copyID != copy.copyID && recovered.content == "{\"a\":1}")
        #expect(other.workbench.journal.entry(copyID: copy.copyID) == nil, "the old entry went")
        #expect(other.workbench.journal.entry(copyID: recovered.copyID)?.content == "{\"a\":1}")
        #expect(writer.workbench.journal.isOpenElsewhere(copyID: recovered.copyID))
        await #expect(throws: KeepError.self) { try await other.workbench.recover(copy.copyID, as: "alice") }
    }

    @Test("a copy edited back to its base and closed leaves no journal entry")
    func closeAfterRevert() async throws {
        let process = try fixture.process()
        let copy = try await process.workbench.open(try await seed(process).id, as: "alice")
        try copy.set(content: "{}")
        try process.workbench.writeJournal(copy)
        try copy.set(content: WorkbenchFixture.dashboards)
        #expect(try process.workbench.close(copy, discard: false) == .closed)
        #expect(process.workbench.journal.entries(user: "alice").isEmpty)
    }

    @Test("a recovery whose poll fails leaves the entry recoverable and opens nothing")
    func recoveryWithUnreachableStore() async throws {
        let writer = try fixture.process()
        let copy = try await writer.workbench.open(try await seed(writer).id, as: "alice")
        try copy.set(content: "{}")
        try writer.workbench.writeJournal(copy)
        let next = try fixture.process()
        next.storage.failReads.withLock { $0 = true }
        await #expect(throws: KeepError.self) { try await next.workbench.recover(copy.copyID, as: "alice") }
        #expect(next.workbench.openCopies.isEmpty)
        #expect(next.workbench.recoverable(as: "alice").map(\.copyID) == [copy.copyID])
    }

    @Test("damaged or foreign journal files are skipped, not fatal")
    func damagedJournal() async throws {
        let process = try fixture.process()
        let copy = try await process.workbench.open(try await seed(process).id, as: "alice")
        try copy.set(content: "{\"ok\":true}")
        try process.workbench.writeJournal(copy)
        let folder = process.workbench.journal.directory
        let good = folder + "/" + copy.copyID + ".entry"
        let whole = try Data(contentsOf: URL(fileURLWithPath: good))
        try whole.dropLast(3).write(to: URL(fileURLWithPath: folder + "/AAAAAAAAAAAA.entry"))
        try Data("{\"not\": \"an entry\"}".utf8).write(to: URL(fileURLWithPath: folder + "/BBBBBBBBBBBB.entry"))
        try (whole + Data("x".utf8)).write(to: URL(fileURLWithPath: folder + "/CCCCCCCCCCCC.entry"))
        let text = String(decoding: whole, as: UTF8.self)
        let huge = text.replacingOccurrences(of: "\"content_bytes\":", with: "\"content_bytes\":9223372036854775000,\"x\":")
        #expect(huge != text)
        try Data(huge.utf8).write(to: URL(fileURLWithPath: folder + "/DDDDDDDDDDDD.entry"))
        #expect(process.workbench.journal.entries(user: "alice").map(\.copyID) == [copy.copyID])
        #expect(process.workbench.journal.entry(copyID: copy.copyID)?.content == "{\"ok\":true}")
    }

    @Test("a save holds a lock; edits made during it stay unsaved; success clears the journal")
    func saveLock() async throws {
        let process = try fixture.process()
        let workbench = process.workbench
        let session = try await seed(process)
        let copy = try await workbench.open(session.id, as: "alice")
        try copy.set(content: #"{"edit":"first"}"#)
        process.storage.holdUpdates()
        let firstSave = Task { try await workbench.save(copy) }
        while process.storage.heldUpdates == 0 { await Task.yield() }
        #expect(copy.isSaving)
        #expect(try await workbench.save(copy) == .inProgress)
        try copy.set(content: #"{"edit":"during the save"}"#)
        process.storage.releaseUpdates()
        #expect(try await firstSave.value == .saved(.updated))
        let stored = try await workbench.sessions.get(as: "alice", id: session.id)
        #expect(stored.content == #"{"edit":"first"}"# && stored.version == 2)
        #expect(copy.hasChanges && copy.content == #"{"edit":"during the save"}"#)
        #expect(copy.baseVersion == 2 && !copy.outOfSync)
        fixture.clock.advance(milliseconds: 250)
        await workbench.timers.runDue()
        #expect(workbench.journal.entries(user: "alice").map(\.content) == [#"{"edit":"during the save"}"#])

        #expect(try await workbench.save(copy) == .saved(.updated))
        #expect(!copy.hasChanges && copy.lastPersisted != nil)
        #expect(workbench.journal.entries(user: "alice").isEmpty)
        #expect(try await workbench.save(copy) == .noChanges)
    }

    @Test("a failed save keeps the edits and their journal entry")
    func failedSave() async throws {
        let process = try fixture.process()
        let workbench = process.workbench
        let copy = try await workbench.open(try await seed(process).id, as: "alice")
        try copy.set(title: "   ")
        let error = await #expect(throws: KeepError.self) { try await workbench.save(copy) }
        #expect(error?.code == .invalid)
        #expect(copy.hasChanges && !copy.isSaving)
        fixture.clock.advance(milliseconds: 250)
        await workbench.timers.runDue()
        #expect(workbench.journal.entries(user: "alice").map(\.title) == ["   "])
    }

    @Test("polling runs on the policy's interval, pauses while hidden, and runs at once on becoming active")
    func polling() async throws {
        let editor = try fixture.process()
        let other = try fixture.process()
        let session = try await seed(editor)
        let copy = try await editor.workbench.open(session.id, as: "alice")
        let readsAtOpen = editor.storage.reads
        _ = try await other.workbench.sessions.update(as: "alice", id: session.id, SessionChanges(content: "{}"))

        fixture.clock.advance(milliseconds: 9_999)
        await editor.workbench.timers.runDue()
        #expect(editor.storage.reads == readsAtOpen && !copy.outOfSync)
        fixture.clock.advance(milliseconds: 1)
        await editor.workbench.timers.runDue()
        #expect(editor.storage.reads == readsAtOpen + 1)
        #expect(copy.outOfSync && copy.backendVersion == 2 && copy.baseVersion == 1)

        editor.workbench.activity.set(.hidden)
        _ = try await other.workbench.sessions.update(as: "alice", id: session.id, SessionChanges(content: "[]"))
        for _ in 0 ..< 3 {
            fixture.clock.advance(milliseconds: 10_000)
            await editor.workbench.timers.runDue()
        }
        #expect(editor.storage.reads == readsAtOpen + 1, "no polls while hidden")
        #expect(copy.backendVersion == 2)

        editor.workbench.activity.set(.active)
        await editor.workbench.timers.runDue()
        #expect(editor.storage.reads == readsAtOpen + 2, "one poll at once on becoming active")
        #expect(copy.backendVersion == 3)
        editor.workbench.activity.set(.visible)
        await editor.workbench.timers.runDue()
        #expect(editor.storage.reads == readsAtOpen + 2, "visible after active does not poll at once")
    }

    @Test("on_activity's poll polls at once even where poll_when says no")
    func forcedPoll() async throws {
        try fixture.writeSavePolicy("""
            return {
              poll_when = function(activity) return activity ~= "hidden" end,
              on_activity = function(state) if state == "hidden" then return "poll" end end,
            }
            """)
        let editor = try fixture.process()
        let copy = try await editor.workbench.open(try await seed(editor).id, as: "alice")
        _ = try await editor.workbench.sessions.update(as: "alice", id: try #require(copy.sessionID), SessionChanges(content: "{}"))
        let reads = editor.storage.reads
        editor.workbench.activity.set(.hidden)
        await editor.workbench.timers.runDue()
        #expect(editor.storage.reads == reads + 1 && copy.outOfSync)
    }

    @Test("a reload that turns polling on (interval 0 to 500 ms) starts it")
    func pollingTurnedOnByReload() async throws {
        try fixture.writeSavePolicy("return { poll_interval_ms = 0 }")
        let registry = try fixture.registry()
        let editor = try fixture.process(policy: registry)
        let copy = try await editor.workbench.open(try await seed(editor).id, as: "alice")
        let reads = editor.storage.reads
        fixture.clock.advance(milliseconds: 60_000)
        await editor.workbench.timers.runDue()
        #expect(editor.storage.reads == reads, "interval 0: no polling")
        try fixture.writeSavePolicy("return { poll_interval_ms = 500 }")
        #expect(registry.reload().lastError == nil)
        for _ in 0 ..< 4 {
            fixture.clock.advance(milliseconds: 500)
            await editor.workbench.timers.runDue()
        }
        #expect(editor.storage.reads >= reads + 2, "polls every 500 ms after the re-check picked the setting up")
        #expect(!copy.outOfSync)
    }

    @Test("a poll finds a deleted session; saving it then asks for save_as, which makes a new session")
    func deletedSession() async throws {
        let editor = try fixture.process()
        let session = try await seed(editor)
        let copy = try await editor.workbench.open(session.id, as: "alice")
        try copy.set(content: "{\"kept\":true}")
        try await editor.workbench.sessions.delete(as: "alice", id: session.id)
        #expect(try await editor.workbench.poll(copy))
        #expect(copy.backendDeleted && copy.outOfSync)
        let error = await #expect(throws: KeepError.self) { try await editor.workbench.save(copy) }
        #expect(error?.code == .notFound && error?.message.contains("save_as") == true)
        try await editor.workbench.saveAs(copy, title: "Rescued", description: nil)
        #expect(copy.sessionID != session.id && !copy.hasChanges && !copy.outOfSync)
        let saved = try await editor.workbench.sessions.get(as: "alice", id: try #require(copy.sessionID))
        #expect(saved.content == "{\"kept\":true}" && saved.title == "Rescued")
    }

    @Test("reload refuses to drop unsaved changes unless told to")
    func reload() async throws {
        let editor = try fixture.process()
        let session = try await seed(editor)
        let copy = try await editor.workbench.open(session.id, as: "alice")
        try copy.set(content: "{}")
        _ = try await editor.workbench.sessions.update(as: "alice", id: session.id, SessionChanges(title: "Renamed"))
        let error = await #expect(throws: KeepError.self) { try await editor.workbench.reload(copy, discard: false) }
        #expect(error?.code == .conflict)
        #expect(copy.content == "{}")
        try await editor.workbench.reload(copy, discard: true)
        #expect(copy.title == "Renamed" && copy.content == WorkbenchFixture.dashboards && copy.baseVersion == 2 && !copy.hasChanges)
    }

    @Test("close keeps unsaved changes in the journal, or discards them when asked")
    func close() async throws {
        let editor = try fixture.process()
        let session = try await seed(editor)
        let kept = try await editor.workbench.open(session.id, as: "alice")
        try kept.set(content: "{\"a\":1}")
        #expect(try editor.workbench.close(kept, discard: false) == .kept)
        #expect(editor.workbench.recoverable(as: "alice").map(\.copyID) == [kept.copyID])
        #expect(throws: KeepError.self) { try kept.set(content: "{}") }

        let discarded = try await editor.workbench.open(session.id, as: "alice")
        try discarded.set(content: "{\"b\":2}")
        fixture.clock.advance(milliseconds: 250)
        await editor.workbench.timers.runDue()
        #expect(try editor.workbench.close(discarded, discard: true) == .discarded)
        #expect(editor.workbench.recoverable(as: "alice").map(\.copyID) == [kept.copyID])

        let clean = try await editor.workbench.open(session.id, as: "alice")
        #expect(try editor.workbench.close(clean, discard: false) == .closed)
        #expect(editor.workbench.openCopies.isEmpty && editor.workbench.timers.isEmpty)
    }

    @Test("a copy left unsaved by one process is recovered exactly by the next, with its base")
    func recovery() async throws {
        let session: Session
        let copyID: String
        do {
            let crashed = try fixture.process()
            session = try await seed(crashed)
            let copy = try await crashed.workbench.open(session.id, as: "alice")
            try copy.set(title: "Field study (edited)")
            try copy.set(content: "{\"unicode\":\"Ærø 📈\",\"n\":12345678901234567890}")
            fixture.clock.advance(milliseconds: 200)
            await crashed.workbench.timers.runDue()
            copyID = copy.copyID
            let fresh = try crashed.workbench.new(as: "alice", title: "Never saved", description: "draft", content: "{}")
            fixture.clock.advance(milliseconds: 1)
            try copy.set(content: "{\"unicode\":\"Ærø 📈\",\"n\":12345678901234567890}")
            fixture.clock.advance(milliseconds: 200)
            await crashed.workbench.timers.runDue()
            #expect(fresh.hasChanges)
        }
        let next = try fixture.process()
        let entries = next.workbench.recoverable(as: "alice")
        #expect(entries.count == 2)
        #expect(entries.first?.copyID == copyID, "most recently edited first")
        #expect(next.workbench.recoverable(as: "bob").isEmpty)
        let recovered = try await next.workbench.recover(copyID, as: "alice")
        #expect(recovered.content == "{\"unicode\":\"Ærø 📈\",\"n\":12345678901234567890}")
        #expect(recovered.title == "Field study (edited)" && recovered.sessionID == session.id)
        #expect(recovered.hasChanges && recovered.baseVersion == 1 && !recovered.outOfSync)
        #expect(next.workbench.recoverable(as: "alice").count == 1, "an open copy is no longer listed")
        #expect(try await next.workbench.save(recovered) == .saved(.updated))
        #expect(next.workbench.journal.entries(user: "alice").count == 1)

        let draft = try #require(next.workbench.recoverable(as: "alice").first)
        let copy = try await next.workbench.recover(draft.copyID, as: "alice")
        #expect(copy.sessionID == nil && copy.description == "draft")
        #expect(try await next.workbench.save(copy) == .saved(.created))
        #expect(next.workbench.recoverable(as: "alice").isEmpty)

        let error = await #expect(throws: KeepError.self) { try await next.workbench.recover("../../etc/pa", as: "alice") }
        #expect(error?.code == .notFound)
    }
}
