import Foundation
import GRDB
import Testing

/// Opening the database through the built binary: reads while another
/// connection holds the write lock, bad paths, read-only and damaged files,
/// and what is left beside the file afterwards.
@Suite struct DatabaseOpeningTests {
    /// A database with a session, a snapshot visited by its owner, and a done job.
    struct Store {
        let directory: URL
        let db: String
        let session: String
        let snapshot: String

        init() throws {
            directory = try KeepBinary.temporaryDirectory()
            db = directory.appendingPathComponent("keep.sqlite").path
            let seed = try KeepBinary.run(["--db", db, "--user", "ana", "run", "-e", """
                local s = keep.sessions.create{title = "Field study", content = "{}"}
                local snap = keep.snapshots.create{title = "Q3", content = "{}"}
                keep.snapshots.create{title = "old", content = "{}"}:delete()
                io.write(s.id, " ", snap.id)
                """], directory: directory)
            #expect(seed.status == 0, "\(seed.stderr)")
            let ids = seed.stdout.split(separator: " ").map(String.init)
            session = ids.first ?? ""
            snapshot = ids.last ?? ""
        }

        func keep(_ arguments: [String], stdin: String? = nil) throws -> KeepBinary.Result {
            try KeepBinary.run(["--db", db, "--user", "ana"] + arguments, stdin: stdin, directory: directory)
        }

        /// The database's files in the store's folder.
        var files: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
                .filter { $0.hasPrefix("keep.sqlite") }.sorted()
        }
    }

    /// A second connection holding the database's write lock from `init` (it
    /// returns once it holds it, as the sqlite3 shell's `BEGIN IMMEDIATE;
    /// INSERT …` does) until `release`.
    final class WriteLockHolder {
        let queue: DatabaseQueue

        init(path: String) throws {
            var configuration = Configuration()
            configuration.allowsUnsafeTransactions = true
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE; INSERT INTO keep_meta (key, value) VALUES ('held_by_test', x'00')")
            }
        }

        var holds: Bool { queue.inDatabase { $0.isInsideTransaction } }

        func release() throws {
            try queue.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
            try queue.close()
        }
    }

    @Test func everyReadAnswersWhileAnotherConnectionHoldsTheWriteLock() throws {
        let store = try Store()
        let migrations = store.directory.appendingPathComponent("migrations").path
        try FileManager.default.createDirectory(atPath: migrations, withIntermediateDirectories: true)
        // A content migration's lock, committed: a busy write names it.
        try DatabaseQueue(path: store.db).write { db in
            try db.execute(sql: """
                INSERT INTO migration_lock (name, holder, acquired_at, expires_at)
                VALUES ('migrate', 'keep-migrate@test:42#abcdef', 0, 9000000000000)
                """)
        }
        let holder = try WriteLockHolder(path: store.db)

        let run = try store.keep(["run", "-e", """
            print(keep.sessions.get("\(store.session)").title, #keep.sessions.list{}.items)
            local n = 0
            for _ in keep.sessions.each{} do n = n + 1 end
            print(n, keep.snapshots.get("\(store.snapshot)").title, #keep.snapshots.list{}.items)
            print(#keep.visits.list{}.items, #keep.jobs.list{}, keep.jobs.list{}[1].state)
            keep.as("bob", function() keep.snapshots.get("\(store.snapshot)") end)
            """])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "Field study\t1\n1\tQ3\t1\n1\t1\tdone\n")
        // Ana's visit falls within the rate limit: nothing to write, nothing to say.
        // Bob's first visit would be a write: it is not logged, and the read says so.
        #expect(!run.stderr.contains("the visit of ana"), "\(run.stderr)")
        #expect(run.stderr.contains("keep: warning: the visit of bob to snapshot \(store.snapshot) was not logged: unavailable: "),
                "\(run.stderr)")
        #expect(!run.stderr.contains("waiting"))

        let repl = try store.keep(["repl", "--norc"], stdin: "#keep.sessions.list{}.items\n")
        #expect(repl.status == 0 && repl.stdout == "1\n", "\(repl.stderr)")
        let jobs = try store.keep(["jobs", "list"])
        #expect(jobs.status == 0 && jobs.stdout.contains("mark_logs_deleted\tdone"), "\(jobs.stderr)")
        let status = try store.keep(["migrate", "status", "--dir", migrations])
        #expect(status.status == 0 && status.stdout.hasPrefix("no migrations in "), "\(status.stderr)")
        let plan = try store.keep(["migrate", "plan", "--dir", migrations])
        #expect(plan.status == 0, "\(plan.stderr)")
        let check = try store.keep(["policy", "check"])
        #expect(check.status == 0 && check.stdout.contains(": ok"), "\(check.stderr)")
        let policyTests = try store.keep(["policy", "test"])
        #expect(policyTests.status == 0 && policyTests.stdout.contains("0 failed"), "\(policyTests.stderr)")

        // Every read above finished while the lock was held; a write waits
        // out the busy timeout, then names the migration that holds the lock.
        #expect(holder.holds)
        let write = try store.keep(["run", "-e", "keep.sessions.create{title = 'x', content = '{}'}"])
        #expect(write.status == 1)
        #expect(write.stderr.contains("unavailable: the database is busy: another connection held the write lock for the whole busy timeout (5 s); could not create a session; a content migration holds it: keep-migrate@test:42#abcdef (try again)"),
                "\(write.stderr)")
        #expect(holder.holds)
        try holder.release()

        let after = try store.keep(["run", "-e", "print(#keep.sessions.list{}.items)"])
        #expect(after.stdout == "1\n" && after.status == 0, "\(after.stderr)")
    }

    @Test func anUpgradeThatMustWaitForTheLockSaysSo() throws {
        let store = try Store()
        // As a database from before the page-token secret version.
        try DatabaseQueue(path: store.db).write { db in
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v4: page token secret'")
        }
        let holder = try WriteLockHolder(path: store.db)
        let blocked = try store.keep(["run", "-e", "print(#keep.sessions.list{}.items)"])
        #expect(blocked.status == 1)
        #expect(blocked.stderr.contains("keep: waiting for the write lock to upgrade the database schema: another connection holds it (waiting up to 5 s)"))
        #expect(blocked.stderr.contains("unavailable: the database is busy"), "\(blocked.stderr)")
        try holder.release()
        let upgraded = try store.keep(["run", "-e", "print(#keep.sessions.list{}.items)"])
        #expect(upgraded.stdout == "1\n" && upgraded.stderr.isEmpty, "\(upgraded.stderr)")
    }

    @Test func noWriteAheadLogIsLeftBesideTheDatabase() throws {
        let store = try Store()
        #expect(store.files == ["keep.sqlite"])
        let migrations = store.directory.appendingPathComponent("migrations").path
        try FileManager.default.createDirectory(atPath: migrations, withIntermediateDirectories: true)
        try """
            ---@type Migration
            return {
              description = "retitle",
              target = "sessions",
              up = function(doc) doc.title = doc.title .. "!" return doc end,
            }
            """.write(toFile: migrations + "/0001_retitle.lua", atomically: true, encoding: .utf8)
        let commands: [[String]] = [
            ["run", "-e", "print(#keep.sessions.list{}.items)"],
            ["run", "-e", "keep.sessions.create{title = 'more', content = '{}'}"],
            ["jobs", "list"],
            ["migrate", "status", "--dir", migrations],
            ["migrate", "plan", "--dir", migrations],
            ["migrate", "up", "--dir", migrations],
        ]
        for arguments in commands {
            let result = try store.keep(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(store.files == ["keep.sqlite"], "\(arguments)")
        }
        let repl = try store.keep(["repl", "--norc"], stdin: "#keep.sessions.list{}.items\n")
        #expect(repl.stdout == "2\n", "\(repl.stderr)")
        #expect(store.files == ["keep.sqlite"])
    }

    @Test func aPathThatCannotNameADatabaseIsAUsageError() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let script = ["run", "-e", "print(#keep.sessions.list{}.items)"]
        let empty = try KeepBinary.run(["--db", ""] + script)
        #expect(empty.status == 2)
        #expect(empty.stderr.contains("--db '': the database path is empty; name a file, e.g. --db keep.sqlite"), "\(empty.stderr)")
        let missing = directory.appendingPathComponent("nowhere/keep.sqlite").path
        let noFolder = try KeepBinary.run(["--db", missing] + script)
        #expect(noFolder.status == 2)
        #expect(noFolder.stderr.contains("the folder \(directory.path)/nowhere does not exist; create it first"), "\(noFolder.stderr)")
        let folder = try KeepBinary.run(["--db", directory.path] + script)
        #expect(folder.status == 2)
        #expect(folder.stderr.contains("\(directory.path) is a folder; the database is a file: name one inside it, e.g. \(directory.path)/keep.sqlite"),
                "\(folder.stderr)")
        let fromEnvironment = try KeepBinary.run(script, environment: ["KEEP_DB": missing, "HOME": directory.path])
        #expect(fromEnvironment.status == 2 && fromEnvironment.stderr.contains("$KEEP_DB \(missing): the folder"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func aReadOnlyDatabaseIsReadAndRefusesWritesSayingWhy() throws {
        let store = try Store()
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: store.db)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: store.db) }
        let before = try Data(contentsOf: URL(fileURLWithPath: store.db))
        let read = try store.keep(["run", "-e", """
            print(keep.sessions.get("\(store.session)").title, #keep.sessions.list{}.items, #keep.visits.list{}.items)
            """])
        #expect(read.status == 0 && read.stdout == "Field study\t1\t1\n", "\(read.stderr)")
        let jobs = try store.keep(["jobs", "list"])
        #expect(jobs.status == 0 && jobs.stdout.contains("done"), "\(jobs.stderr)")
        let write = try store.keep(["run", "-e", "keep.sessions.create{title = 'x', content = '{}'}"])
        #expect(write.status == 1)
        #expect(write.stderr.contains("forbidden: could not create a session: the database \(store.db) is open read-only: the file \(store.db) has no write permission; reads work, writes need write permission on the file and its folder"),
                "\(write.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: store.db)) == before)

        // A folder nobody may write: SQLite could not keep its log there.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: store.db)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: store.directory.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: store.directory.path) }
        let inFolder = try store.keep(["run", "-e", """
            print(#keep.sessions.list{}.items)
            keep.sessions.create{title = 'x', content = '{}'}
            """])
        #expect(inFolder.stdout == "1\n" && inFolder.status == 1)
        #expect(inFolder.stderr.contains("its folder \(store.directory.path) has no write permission"), "\(inFolder.stderr)")
    }

    @Test func aDamagedFileOrAnotherProgramsDatabaseIsNamedAsSuch() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let text = directory.appendingPathComponent("notes.txt").path
        try String(repeating: "not a database\n", count: 100).write(toFile: text, atomically: true, encoding: .utf8)
        let random = directory.appendingPathComponent("random.sqlite").path
        var generator = SystemRandomNumberGenerator()
        try Data((0 ..< 8192).map { _ in UInt8.random(in: 0 ... 255, using: &generator) })
            .write(to: URL(fileURLWithPath: random))
        for path in [text, random] {
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let result = try KeepBinary.run(["--db", path, "run", "-e", "print(#keep.sessions.list{}.items)"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("invalid: could not open the database \(path): the file \(path) is damaged or is not a Keep database (SQLite: file is not a database); restore it from a copy, or name another file with --db"),
                    "\(result.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        }
        let other = directory.appendingPathComponent("other.sqlite").path
        try DatabaseQueue(path: other).write { try $0.execute(sql: "CREATE TABLE birds (name TEXT)") }
        let before = try Data(contentsOf: URL(fileURLWithPath: other))
        let result = try KeepBinary.run(["--db", other, "jobs", "list"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("keep: invalid: \(other) is an SQLite database but not a Keep database (it holds tables such as birds); name another file with --db"),
                "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: other)) == before)
    }
}
