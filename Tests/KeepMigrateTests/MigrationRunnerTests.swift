import Foundation
import KeepCore
import KeepMigrate
import KeepPostgres
import KeepSQLite
import KeepStore
import KeepTestSupport
import Testing

@Suite("Migration runner")
struct MigrationRunnerTests {
    @Test("up changes only the documents whose canonical content changed, once, and records it", arguments: BackendKind.allCases)
    func upChangesOnce(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let seeded = try await fixture.seedSessions(30)
        try fixture.writeRename()
        let report = try await onThread { try fixture.runner { $0.batchSize = 7 }.up() }
        let entry = try #require(report.migrations.first)
        #expect(entry.state == "applied")
        #expect(entry.scanned == 30)
        #expect(entry.changed == 20)
        #expect(entry.failed == 0)
        for original in seeded {
            let stored = try await fixture.session(original.id, owner: original.owner)
            let renamed = original.content.contains("WellLogs")
            #expect(stored.version == original.version + (renamed ? 1 : 0))
            #expect(stored.updatedAt == original.updatedAt, "a migration is not a user's edit")
            #expect(stored.hash == ContentHash(of: stored.content))
            #expect(stored.content.contains("WellLogViewer") == renamed)
            #expect(stored.content.contains("\"runs\": 1") == renamed)
            if !renamed { #expect(stored.content == original.content, "unchanged documents keep their bytes") }
        }
        let again = try await onThread { try fixture.runner().up() }
        #expect(again.migrations.isEmpty, "an applied migration does not run again")
        let record = try #require(try await onThread { try fixture.runner().status() }.entry("1")?.record)
        #expect(record.state == .applied)
        #expect(record.checkpoint?.kind == .session)
        #expect((record.scanned, record.changed, record.failed) == (30, 20, 0))
    }

    @Test("a migration that changes nothing writes nothing, even over non-canonical content", arguments: BackendKind.allCases)
    func noOpWritesNothing(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let seeded = try await fixture.seedSessions(5)  // stored compact, not canonical
        try fixture.write("0001_noop.lua", """
            return { description = "touch nothing", target = "sessions",
                     up = function(doc) doc.data = json.decode(json.encode(doc.data)) end }
            """)
        let entry = try #require(try await onThread { try fixture.runner().up() }.migrations.first)
        #expect((entry.scanned, entry.changed) == (5, 0))
        for original in seeded {
            #expect(try await fixture.session(original.id, owner: original.owner) == original)
        }
    }

    @Test("snapshots: title and content change, and access-log copies follow; rollback restores them", arguments: BackendKind.allCases)
    func snapshotsAndAccessLogs(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let snapshot = try await fixture.snapshots.create(as: "alice", title: "Q3 review", description: "draft",
                                                          content: #"{"dashboards":[{"module":"WellLogs"}]}"#)
        _ = try await fixture.snapshots.get(as: "bob", id: snapshot.id)  // bob's visit copies the metadata
        try fixture.write("0001_titles.lua", """
            return { description = "suffix titles", target = "snapshots", up = function(doc)
              doc.title = doc.title .. " (v2)"; doc.description = nil; doc.data.dashboards[1].module = "Viewer"
            end }
            """)
        _ = try await onThread { try fixture.runner().up() }
        let migrated = try await fixture.snapshots.get(as: "alice", id: snapshot.id)
        #expect(migrated.title == "Q3 review (v2)")
        #expect(migrated.description == nil)
        #expect(migrated.hash == ContentHash(of: migrated.content))
        let bobs = try await fixture.snapshots.visits(as: "bob", AccessLogQuery())
        let log = try #require(bobs.items.first)
        #expect(log.snapshotTitle == "Q3 review (v2)")
        #expect(log.snapshotDescription == nil)
        #expect(log.snapshotHash == migrated.hash)

        let rollback = try await onThread { try fixture.runner().rollback("0001") }
        #expect(rollback.migrations.first?.restored == 1)
        let restored = try await fixture.snapshots.get(as: "alice", id: snapshot.id)
        #expect(restored == snapshot)
        let bobsAfter = try await fixture.snapshots.visits(as: "bob", AccessLogQuery())
        #expect(bobsAfter.items.first?.snapshotTitle == "Q3 review")
        #expect(bobsAfter.items.first?.snapshotHash == snapshot.hash)
    }

    @Test("a run that dies between batches resumes after its checkpoint: nothing twice, nothing skipped", arguments: BackendKind.allCases)
    func resumesAfterCrash(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let seeded = try await fixture.seedSessions(40)
        try fixture.writeRename()
        let reference = try await MigrationFixture(kind)
        for original in seeded {
            _ = try await reference.backend.insertSession(original)
        }
        try reference.writeRename()
        _ = try await onThread { try reference.runner { $0.batchSize = 6 }.up() }

        for failAt in [3, 2, 4] {
            let crashing = InterferingStorage(fixture.backend, failAtCommit: failAt)
            await expectKeepError(.unavailable) { try fixture.runner(storage: crashing, holder: "runner-\(failAt)") { $0.batchSize = 6 }.up() }
            // The dead runner keeps the lock until its lease runs out.
            await expectKeepError(.conflict) { try fixture.runner(holder: "impatient") { $0.batchSize = 6 }.up() }
            fixture.clock.advance(milliseconds: 10_001)
        }
        let final = try #require(try await onThread { try fixture.runner(holder: "finisher") { $0.batchSize = 6 }.up() }.migrations.first)
        #expect(final.resumed)
        #expect(final.state == "applied")
        #expect((final.scanned, final.changed) == (40, 27))
        let (migrated, expected) = (try await fixture.dump(), try await reference.dump())
        #expect(migrated == expected)
        for original in seeded {
            let stored = try await fixture.session(original.id, owner: original.owner)
            let renamed = original.content.contains("WellLogs")
            #expect(stored.version == original.version + (renamed ? 1 : 0))
            #expect(stored.content.contains("\"runs\": 1") == renamed, "migrated exactly once")
        }
    }

    @Test("what to run is decided again under the lock: a runner that lost the race does not apply a migration twice", arguments: BackendKind.allCases)
    func decidedUnderTheLock(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let seeded = try await fixture.seedSessions(9)
        try fixture.writeRename()
        let racing = InterferingStorage(fixture.backend)
        // Between this runner's first look at the ledger and its lock, another runner applies everything.
        racing.beforeAcquire = { [fixture] in
            racing.beforeAcquire = {}
            _ = try await onThread { try fixture.runner(holder: "quicker").up() }
        }
        let late = try await onThread { try fixture.runner(storage: racing, holder: "slower").up() }
        #expect(late.migrations.isEmpty, "nothing left to run once the lock is held")
        for original in seeded where original.content.contains("WellLogs") {
            let stored = try await fixture.session(original.id, owner: original.owner)
            #expect(stored.version == 2)
            #expect(stored.content.contains("\"runs\": 1"))
        }
        // And a rollback checked before another runner applied a later migration is refused under the lock.
        try fixture.write("0002_more.lua", "return { description = 'more', target = 'sessions', up = function(doc) doc.data.more = 1 end }")
        racing.beforeAcquire = { [fixture] in
            racing.beforeAcquire = {}
            _ = try await onThread { try fixture.runner(holder: "quicker").up() }
        }
        let refused = await expectKeepError(.conflict) { try fixture.runner(storage: racing, holder: "slower").rollback("1") }
        #expect(refused?.message.contains("0002_more.lua (applied)") == true)
    }

    @Test("an `all` migration stopped among the snapshots resumes there, after every session", arguments: BackendKind.allCases)
    func resumesAmongSnapshots(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let sessions = try await fixture.seedSessions(3)
        var snapshots: [Snapshot] = []
        for index in 0 ..< 4 {
            snapshots.append(try await fixture.snapshots.create(as: "alice", title: "S\(index)",
                                                                content: #"{"dashboards":[{"module":"WellLogs"}]}"#))
        }
        try fixture.writeRename(target: "all")
        // Batches of 2: sessions [2, 1], snapshots [2, 2]; the fourth commit dies.
        let crashing = InterferingStorage(fixture.backend, failAtCommit: 4)
        await expectKeepError(.unavailable) { try fixture.runner(storage: crashing, holder: "first") { $0.batchSize = 2 }.up() }
        let checkpoint = try await onThread { try fixture.runner().status() }.entry("1")?.record?.checkpoint
        #expect(checkpoint?.kind == .snapshot)
        fixture.clock.advance(milliseconds: 10_001)
        let resumed = try #require(try await onThread { try fixture.runner(holder: "second") { $0.batchSize = 2 }.up() }.migrations.first)
        #expect((resumed.state, resumed.scanned) == ("applied", 7))
        for session in sessions where session.content.contains("WellLogs") {
            #expect(try await fixture.session(session.id, owner: session.owner).content.contains("\"runs\": 1"))
        }
        for snapshot in snapshots {
            let stored = try await fixture.snapshots.get(as: "alice", id: snapshot.id)
            #expect(stored.content.contains("\"runs\": 1"), "each snapshot once")
        }
    }

    @Test("a document edited between the batch's read and its commit is migrated as it is now", arguments: BackendKind.allCases)
    func concurrentEditIsRedone(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let seeded = try await fixture.seedSessions(3)
        let target = seeded[0]
        try fixture.writeRename()
        let interfering = fixture.editing(target) { commit in
            commit == 1 ? #"{"dashboards":[{"module":"WellLogs","edited":true}]}"# : nil
        }
        _ = try await onThread { try fixture.runner(storage: interfering).up() }
        let stored = try await fixture.session(target.id, owner: target.owner)
        #expect(stored.content.contains("\"edited\": true"), "the user's edit is kept")
        #expect(stored.content.contains("WellLogViewer"), "and migrated")
        #expect(stored.version == 3)
    }

    @Test("a document up left alone but edited into the old format before the commit is migrated after all", arguments: BackendKind.allCases)
    func unchangedThenEditedIsRedone(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let seeded = try await fixture.seedSessions(3)
        let target = try #require(seeded.first { !$0.content.contains("WellLogs") })
        try fixture.writeRename()
        let interfering = fixture.editing(target) { commit in commit == 1 ? #"{"dashboards":[{"module":"WellLogs"}]}"# : nil }
        let entry = try #require(try await onThread { try fixture.runner(storage: interfering).up() }.migrations.first)
        #expect((entry.scanned, entry.changed) == (3, 3))
        let stored = try await fixture.session(target.id, owner: target.owner)
        #expect(stored.content.contains("WellLogViewer") && stored.content.contains("\"runs\": 1"))
        #expect(stored.version == 3)
    }

    @Test("--on-error skip records failing documents and migrates the rest; stop keeps the checkpoint before the failing batch", arguments: BackendKind.allCases)
    func errorModes(_ kind: BackendKind) async throws {
        let source = """
            return { description = "fails on one", target = "sessions", up = function(doc)
              if doc.title == "Session 7" then error("session 7 is broken") end
              doc.data.migrated = true
            end }
            """
        let skipping = try await MigrationFixture(kind)
        try await skipping.seedSessions(12)
        try skipping.write("0001_fail.lua", source)
        let skipped = try #require(try await onThread { try skipping.runner { $0.onError = .skip; $0.batchSize = 5 }.up() }.migrations.first)
        #expect((skipped.state, skipped.scanned, skipped.changed, skipped.failed) == ("applied", 12, 11, 1))
        #expect(skipped.failures.count == 1)
        #expect(skipped.failures.first?.message.contains("0001_fail.lua:2: session 7 is broken") == true)

        let stopping = try await MigrationFixture(kind)
        let seeded = try await stopping.seedSessions(12)
        try stopping.write("0001_fail.lua", source)
        let ordered = seeded.sorted { $0.id.rawValue < $1.id.rawValue }
        let failingIndex = try #require(ordered.firstIndex { $0.title == "Session 7" })
        let stopped = try #require(try await onThread { try stopping.runner { $0.batchSize = 5 }.up() }.migrations.first)
        #expect(stopped.state == "failed")
        #expect(stopped.error?.contains("session 7 is broken") == true)
        let record = try #require(try await onThread { try stopping.runner().status() }.entry("1")?.record)
        let committedBatches = failingIndex / 5
        #expect(record.scanned == Int64(committedBatches * 5))
        #expect(record.checkpoint?.id == (committedBatches == 0 ? nil : ordered[committedBatches * 5 - 1].id))
        for (index, original) in ordered.enumerated() {
            let stored = try await stopping.session(original.id, owner: original.owner)
            #expect(stored.content.contains("migrated") == (index < committedBatches * 5))
        }
    }

    @Test("a document edited before the commit into one the migration fails on stops the run (--on-error stop) when decided again")
    func failureFoundInsideTheCommitStops() async throws {
        let fixture = try await MigrationFixture()
        let seeded = try await fixture.seedSessions(3)
        let target = seeded[1]
        try fixture.write("0001_fail.lua", """
            return { description = "fails on broken", target = "sessions", up = function(doc)
              if doc.data.broken then error("this one is broken") end
              doc.data.migrated = true
            end }
            """)
        let interfering = fixture.editing(target) { commit in commit == 1 ? #"{"broken":true}"# : nil }
        let entry = try #require(try await onThread { try fixture.runner(storage: interfering).up() }.migrations.first)
        #expect(entry.state == "failed")
        #expect(entry.error?.hasPrefix("session \(target.id): ") == true && entry.error?.contains("this one is broken") == true,
                "\(entry.error ?? "no error")")
        #expect(entry.failures.map(\.id) == [target.id.rawValue])
        let record = try #require(try await onThread { try fixture.runner().status() }.entry("1")?.record)
        #expect(record.state == .failed && record.checkpoint == nil)
        for original in seeded {
            let stored = try await fixture.session(original.id, owner: original.owner)
            #expect(!stored.content.contains("migrated"), "nothing of the stopped batch is written")
        }
    }

    @Test("a document deleted between the batch's read and its commit is dropped; the rest of the batch is written", arguments: BackendKind.allCases)
    func deletedBeforeCommitIsDropped(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let seeded = try await fixture.seedSessions(6)
        let target = try #require(seeded.first { $0.content.contains("WellLogs") })
        try fixture.writeRename()
        let interfering = InterferingStorage(fixture.backend)
        let sessions = fixture.sessions
        interfering.beforeCommit = { _, commit in
            guard commit == 1 else { return }
            try await sessions.delete(as: target.owner, id: target.id)
        }
        let entry = try #require(try await onThread { try fixture.runner(storage: interfering).up() }.migrations.first)
        #expect(entry.state == "applied")
        #expect(interfering.commits == 2, "the batch is committed again once, without the deleted document")
        let migrated = seeded.filter { $0.id != target.id && $0.content.contains("WellLogs") }
        #expect(entry.changed == Int64(migrated.count))
        for original in migrated {
            #expect(try await fixture.session(original.id, owner: original.owner).content.contains("WellLogViewer"))
        }
    }

    @Test("documents edited before every commit stop the run after a bounded number of attempts; nothing of the batch is written and the next run resumes", arguments: BackendKind.allCases)
    func documentsThatKeepMovingStopTheRun(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let seeded = try await fixture.seedSessions(4)
        let target = seeded[0]
        try fixture.writeRename()
        let interfering = fixture.editing(target) { commit in #"{"dashboards":[{"module":"WellLogs","edit":\#(commit)}]}"# }
        let error = await expectKeepError(.conflict) { try fixture.runner(storage: interfering).up() }
        #expect(error?.message.contains("session \(target.id) changed again each time the batch was committed (8 attempts)") == true,
                "\(error.map(String.init(describing:)) ?? "no error")")
        #expect(interfering.commits == 8)
        for original in seeded where original.id != target.id {
            #expect(try await fixture.session(original.id, owner: original.owner).content == original.content,
                    "nothing of the batch is written")
        }
        let resumed = try #require(try await onThread { try fixture.runner().up() }.migrations.first)
        #expect(resumed.state == "applied")
        let stored = try await fixture.session(target.id, owner: target.owner)
        #expect(stored.content.contains("WellLogViewer") && stored.content.contains("\"edit\": 8"))
    }

    @Test("a dry run writes nothing and counts what the real run does", arguments: BackendKind.allCases)
    func dryRun(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        try await fixture.seedSessions(25)
        try fixture.writeRename()
        let before = try await fixture.dump()
        let readOnly = try await fixture.readOnlyBackend()
        let dry = try #require(try await onThread { try fixture.runner(storage: readOnly) { $0.batchSize = 4 }.up(dryRun: true) }.migrations.first)
        #expect(try await fixture.dump() == before)
        #expect(try await onThread { try fixture.runner().status() }.entry("1")?.record == nil)
        #expect(dry.samples.count == 3)
        #expect(dry.samples.first?.content == ["-      \"module\": \"WellLogs\",", "+      \"module\": \"WellLogViewer\",",
                                               "+  \"runs\": 1,"])
        let real = try #require(try await onThread { try fixture.runner().up() }.migrations.first)
        #expect((dry.scanned, dry.changed, dry.failed) == (real.scanned, real.changed, real.failed))
    }

    @Test("rollback restores content, hash and title exactly; a document changed since is left and reported", arguments: BackendKind.allCases)
    func rollback(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let seeded = try await fixture.seedSessions(10)
        try fixture.write("0001_retitle.lua", """
            return { description = "retitle", target = "sessions", up = function(doc)
              doc.title = doc.title:upper(); doc.data.version = 2
            end }
            """)
        _ = try await onThread { try fixture.runner { $0.batchSize = 3 }.up() }
        let edited = seeded[4]
        _ = try await fixture.sessions.update(as: edited.owner, id: edited.id, SessionChanges(title: "Mine now"))
        let report = try #require(try await onThread { try fixture.runner { $0.batchSize = 3 }.rollback("1") }.migrations.first)
        #expect((report.restored, report.conflicts, report.gone) == (9, 1, 0))
        #expect(report.failures.map(\.id) == [edited.id.rawValue])
        for original in seeded {
            let stored = try await fixture.session(original.id, owner: original.owner)
            if original.id == edited.id {
                #expect(stored.title == "Mine now")
            } else {
                #expect((stored.title, stored.content, stored.hash) == (original.title, original.content, original.hash))
                #expect(stored.version == original.version + 2)
            }
        }
        let status = try await onThread { try fixture.runner().status() }
        #expect(status.entry("1")?.state == .rolledBack)
        #expect(try await onThread { try fixture.runner().status() }.pending(through: nil, accepting: []).map(\.id) == ["0001"],
                "a rolled-back migration is pending again")
    }

    @Test("rollback is refused when a later migration builds on it, or without backups", arguments: BackendKind.allCases)
    func rollbackRefusals(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        try await fixture.seedSessions(3)
        try fixture.writeRename()
        try fixture.write("0002_more.lua", "return { description = 'more', target = 'all', up = function(doc) doc.data.more = 1 end }")
        _ = try await onThread { try fixture.runner().up() }
        let error = await expectKeepError(.conflict) { try fixture.runner().rollback("0001") }
        #expect(error?.message.contains("0002_more.lua (applied)") == true)
        _ = try await onThread { try fixture.runner().rollback("0002_more") }
        _ = try await onThread { try fixture.runner().rollback("0001_rename_module.lua") }

        try fixture.write("0003_nobackup.lua", "return { description = 'x', target = 'snapshots', up = function(doc) end }")
        _ = try await onThread { try fixture.runner { $0.keepsBackup = false }.up(through: "0003") }
        let refused = await expectKeepError(.invalid) { try fixture.runner().rollback("3") }
        #expect(refused?.message.contains("--no-backup") == true)
    }

    @Test("a migration file changed after it ran blocks up until acknowledged", arguments: BackendKind.allCases)
    func changedFile(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        try await fixture.seedSessions(3)
        try fixture.writeRename()
        _ = try await onThread { try fixture.runner().up() }
        try fixture.write("0001_rename_module.lua", "return { description = 'edited', target = 'sessions', up = function(doc) end }")
        try fixture.write("0002_next.lua", "return { description = 'next', target = 'sessions', up = function(doc) doc.data.n = 1 end }")
        #expect(try await onThread { try fixture.runner().status() }.entry("1")?.fileChanged == true)
        let blocked = await expectKeepError(.conflict) { try fixture.runner().up() }
        #expect(blocked?.message.contains("--accept-changed 0001") == true)
        let report = try await onThread { try fixture.runner().up(accepting: ["0001"]) }
        #expect(report.migrations.map(\.id) == ["0002"], "accepting does not run the changed migration again")
        #expect(try await onThread { try fixture.runner().status() }.entry("1")?.fileChanged == false)
    }

    @Test("a new migration numbered below one that ran is refused", arguments: BackendKind.allCases)
    func outOfOrder(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        try fixture.write("0002_second.lua", "return { description = 'x', target = 'sessions', up = function(doc) end }")
        _ = try await onThread { try fixture.runner().up() }
        try fixture.write("0001_first.lua", "return { description = 'x', target = 'sessions', up = function(doc) end }")
        let error = await expectKeepError(.conflict) { try fixture.runner().up() }
        #expect(error?.message.contains("renumber it above 0002") == true)
    }

    @Test("the lock: a second runner fails fast naming the holder; an expired lease is taken over; a lost lock stops the loser", arguments: BackendKind.allCases)
    func lock(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let storage = fixture.backend
        let now = fixture.clock.clock.now()
        #expect(try await storage.acquireMigrationLock(holder: "first", now: now, leaseMilliseconds: 1000) == nil)
        try await fixture.seedSessions(2)
        try fixture.writeRename()
        let error = await expectKeepError(.conflict) { try fixture.runner(holder: "second").up() }
        #expect(error?.message.contains("locked by first") == true)
        #expect(error?.details["holder"] == "first")
        fixture.clock.advance(milliseconds: 1001)
        #expect(try await onThread { try fixture.runner(holder: "second").up() }.migrations.first?.state == "applied")
        #expect(try await storage.migrationLock() == nil, "released after the run")

        // A runner whose lease was taken over cannot write.
        #expect(try await storage.acquireMigrationLock(holder: "old", now: now, leaseMilliseconds: 10) == nil)
        #expect(try await storage.acquireMigrationLock(holder: "new", now: fixture.clock.clock.now(), leaseMilliseconds: 10_000) == nil)
        #expect(try await storage.renewMigrationLock(holder: "old", now: fixture.clock.clock.now(), leaseMilliseconds: 10) == false)
        let record = MigrationRecord(id: "0009", name: "late", description: "x", target: .sessions, checksum: "0",
                                     state: .running, keepsBackup: true, startedAt: now)
        let lost = await #expect(throws: KeepError.self) {
            try await storage.saveMigrationRecord(record, startingOver: true, holder: "old", now: now, leaseMilliseconds: 10)
        }
        #expect(lost?.code == .conflict)
        #expect(lost?.message.contains("new holds it now") == true)
    }

    @Test("a holder whose process is gone is taken over at once, long before its lease ends; a live one is not", arguments: BackendKind.allCases)
    func goneHolder(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let storage = fixture.backend
        try await fixture.seedSessions(3)
        try fixture.writeRename()
        let now = fixture.clock.clock.now()
        let hour: Int64 = 3_600_000
        switch kind {
        case .sqlite:
            // Alive: this process, and a process of another host (whose pid means nothing here).
            for alive in [MigrationHolder.thisProcess(), MigrationHolder(host: "elsewhere.invalid", pid: 1, nonce: "abc123")] {
                #expect(try await storage.acquireMigrationLock(holder: alive.name, now: now, leaseMilliseconds: hour) == nil)
                #expect(try await storage.acquireMigrationLock(holder: "successor", now: now, leaseMilliseconds: hour)?
                    .holder == alive.name, "\(alive.name) is alive: its lease runs")
                try await storage.releaseMigrationLock(holder: alive.name)
            }
            // Gone: a process of this host that exited and was reaped, so kill(pid, 0) fails with ESRCH.
            let exited = Process()
            exited.executableURL = URL(fileURLWithPath: "/bin/true")
            try exited.run()
            exited.waitUntilExit()
            let gone = MigrationHolder(host: MigrationHolder.thisHost, pid: exited.processIdentifier, nonce: "gone01")
            #expect(try await storage.acquireMigrationLock(holder: gone.name, now: now, leaseMilliseconds: hour) == nil)
        case .postgres:
            // Another process's session: a backend of its own, whose connections end as a killed process's do.
            let other = try await PostgresBackend.open((storage as! PostgresBackend).location)
            #expect(try await other.acquireMigrationLock(holder: "gone", now: now, leaseMilliseconds: hour) == nil)
            #expect(try await storage.acquireMigrationLock(holder: "successor", now: now, leaseMilliseconds: hour)?
                .holder == "gone", "its session is alive: its lease runs")
            await other.close()
            // The server frees the session's advisory lock once it has seen the connection end,
            // which it does on its own time: wait for that (the lease, on the test clock, never ends).
            let deadline = ContinuousClock.now + .seconds(20)
            while try await storage.acquireMigrationLock(holder: "successor", now: now, leaseMilliseconds: 10) != nil,
                  ContinuousClock.now < deadline {}
            #expect(try await storage.migrationLock()?.holder == "successor", "taken over from the gone holder")
            try await storage.releaseMigrationLock(holder: "successor")
            #expect(try await storage.acquireMigrationLock(holder: "gone-again", now: now, leaseMilliseconds: hour) == nil)
            // A holder whose session is alive keeps the lock until it releases it.
            #expect(try await storage.acquireMigrationLock(holder: "successor", now: now, leaseMilliseconds: hour)?
                .holder == "gone-again")
            try await storage.releaseMigrationLock(holder: "gone-again")
        }
        let report = try await onThread { try fixture.runner(holder: "successor").up() }
        #expect(report.migrations.first?.state == "applied")
        #expect(try await storage.migrationLock() == nil, "released after the run")
    }

    @Test("breaking the lock removes it whoever holds it and names it; its holder then stops without writing", arguments: BackendKind.allCases)
    func breakLock(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let storage = fixture.backend
        let now = fixture.clock.clock.now()
        #expect(try await storage.breakMigrationLock() == nil, "no lock: nothing to release")
        #expect(try await storage.acquireMigrationLock(holder: "stuck", now: now, leaseMilliseconds: 60_000) == nil)
        let released = try await storage.breakMigrationLock()
        #expect(released?.holder == "stuck")
        #expect(released?.acquiredAt == now)
        #expect(try await storage.migrationLock() == nil)
        #expect(try await storage.renewMigrationLock(holder: "stuck", now: now, leaseMilliseconds: 60_000) == false)
        try await fixture.seedSessions(3)
        try fixture.writeRename()
        #expect(try await onThread { try fixture.runner(holder: "next").up() }.migrations.first?.state == "applied")
        try await storage.releaseMigrationLock(holder: "stuck")
    }

    @Test("per-document problems are failures with messages: not JSON, bad fields, too large", arguments: BackendKind.allCases)
    func documentFailures(_ kind: BackendKind) async throws {
        let fixture = try await MigrationFixture(kind)
        let text = try await fixture.sessions.create(as: "alice", title: "plain", content: "not json at all")
        let json = try await fixture.sessions.create(as: "alice", title: "json", content: #"{"a":1}"#)
        try fixture.write("0001_bad.lua", """
            return { description = "bad", target = "sessions", up = function(doc)
              if doc.title == "json" then doc.data.blob = string.rep("x", 2 * 1024 * 1024) end
            end }
            """)
        let entry = try #require(try await onThread { try fixture.runner { $0.onError = .skip }.up() }.migrations.first)
        let messages = Dictionary(uniqueKeysWithValues: entry.failures.map { ($0.id, $0.message) })
        #expect(messages[text.id.rawValue]?.contains("not JSON") == true)
        #expect(messages[json.id.rawValue]?.hasPrefix("too_large:") == true)
        #expect(try await fixture.session(json.id, owner: "alice") == json)

        try fixture.write("0002_title.lua", "return { description = 'x', target = 'sessions', up = function(doc) doc.title = 5 end }")
        let second = try #require(try await onThread { try fixture.runner { $0.onError = .skip }.up() }.migrations.first)
        #expect(second.failures.contains { $0.message.contains("doc.title as number") })
        try fixture.write("0003_utf8.lua", #"return { description = 'x', target = 'sessions', up = function(doc) doc.description = "caf\xe9" end }"#)
        let third = try #require(try await onThread { try fixture.runner { $0.onError = .skip }.up() }.migrations.first)
        #expect(third.failures.contains { $0.message.contains("doc.description that is not valid UTF-8") })
        #expect(try await fixture.session(json.id, owner: "alice") == json, "nothing written")
    }
}

@Suite("Migration files")
struct MigrationFileTests {
    @Test("files are NNNN_name.lua, numbered uniquely; helpers without a number are ignored")
    func naming() async throws {
        let fixture = try await MigrationFixture()
        try fixture.write("0001_a.lua", "return {}")
        try fixture.write("helpers.lua", "return {}")
        #expect(try MigrationDirectory(path: fixture.migrations).files.map(\.fileName) == ["0001_a.lua"])
        try fixture.write("1_short.lua", "return {}")
        await expectKeepError(.invalid) { try MigrationDirectory(path: fixture.migrations) }
        try FileManager.default.removeItem(atPath: fixture.migrations + "/1_short.lua")
        try fixture.write("0001_b.lua", "return {}")
        let duplicate = await expectKeepError(.invalid) { try MigrationDirectory(path: fixture.migrations) }
        #expect(duplicate?.message.contains("same number") == true)
        await expectKeepError(.notFound) { try MigrationDirectory(path: fixture.directory + "/nowhere") }
    }

    @Test("scaffolding numbers the next file and writes a template that loads")
    func scaffold() async throws {
        let fixture = try await MigrationFixture()
        try fixture.write("0007_old.lua", "return {}")
        let path = try MigrationDirectory.scaffold(name: "Split settings", in: fixture.migrations)
        #expect(path.hasSuffix("/0008_split_settings.lua"))
        let file = try #require(try MigrationDirectory(path: fixture.migrations).file("8"))
        let script = try MigrationScript(file: file, root: fixture.migrations)
        #expect(script.target == .sessions)
        await expectKeepError(.invalid) { try MigrationDirectory.scaffold(name: "../evil", in: fixture.migrations) }
    }

    @Test("a file of the wrong shape is refused with what it needs")
    func shapes() async throws {
        let fixture = try await MigrationFixture()
        let cases: [(String, String)] = [
            ("return 5", "must return a table"),
            ("return { target = 'sessions', up = function() end }", "needs description"),
            ("return { description = 'x', target = 'everything', up = function() end }", #"one of "sessions", "snapshots", "all""#),
            ("return { description = 'x', target = 'all' }", "needs up = function(doc)"),
            ("return {", "failed to load"),
            ("return { description = 'x', target = 'all', up = function() end, os.execute('true') }", "failed to load"),
        ]
        for (source, expected) in cases {
            try fixture.write("0001_shape.lua", source)
            let file = try #require(try MigrationDirectory(path: fixture.migrations).files.first)
            let error = await expectKeepError(.invalid) { _ = try MigrationScript(file: file, root: fixture.migrations) }
            #expect(error?.message.contains(expected) == true, "\(source): \(error?.message ?? "")")
            #expect(error?.message.hasPrefix("0001_shape.lua") == true)
        }
    }
}
