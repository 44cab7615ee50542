import Foundation
import KeepCore
import KeepSQLite
import KeepStore

/// Sessions per second through Keep (service + SQLite backend) against the
/// same statements run by the sqlite3 shell on a database with the same
/// journal and sync settings, and a 1.4 MiB save against sha256sum plus a raw insert.
func storeBenchmarks() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keep-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }

    let backend = try SQLiteBackend(path: directory.appendingPathComponent("keep.sqlite").path)
    let service = SessionService(storage: backend)
    let settings = try await backend.settings()
    let synchronous = settings.synchronous
    let count = 2000
    let content = "{\"dashboards\":[{\"name\":\"Q3\",\"modules\":[]}]}"

    func rate(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - start
        return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    var ids: [ResourceID] = []
    let creates = try await rate {
        for i in 0 ..< count { ids.append(try await service.create(as: "ana", title: "session \(i)", content: content).id) }
    }
    let gets = try await rate { for id in ids { _ = try await service.get(as: "ana", id: id) } }
    let updates = try await rate {
        for id in ids { _ = try await service.update(as: "ana", id: id, SessionChanges(content: content + " ")) }
    }

    // The anchor: the same statements, one transaction each, in the sqlite3 shell.
    let raw = directory.appendingPathComponent("raw.sqlite").path
    let setup = """
        PRAGMA journal_mode=WAL; PRAGMA synchronous=\(synchronous);
        CREATE TABLE sessions (id TEXT PRIMARY KEY NOT NULL, owner TEXT NOT NULL, title TEXT NOT NULL,
          title_key TEXT NOT NULL, description TEXT, content TEXT NOT NULL, hash TEXT NOT NULL, version INTEGER NOT NULL,
          created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
        CREATE INDEX sessions_by_owner_updated ON sessions(owner, updated_at, id);
        CREATE INDEX sessions_by_owner_created ON sessions(owner, created_at, id);
        CREATE INDEX sessions_by_owner_title ON sessions(owner, title_key, id);
        """
    _ = try sqlite3(raw, setup)
    let hash = ContentHash(of: content).hex
    let pragmas = "PRAGMA synchronous=\(synchronous);\n"
    let inserts = pragmas + (0 ..< count).map { i in
        "INSERT INTO sessions VALUES ('\(ids[i])', 'ana', 'session \(i)', 'session \(i)', NULL, '\(content)', '\(hash)', 1, \(i), \(i));"
    }.joined(separator: "\n")
    let selects = pragmas + ids.map { "SELECT * FROM sessions WHERE id = '\($0)' AND owner = 'ana';" }.joined(separator: "\n")
    let rawUpdates = pragmas + ids.map {
        "UPDATE sessions SET content = '\(content) ', hash = '\(hash)', version = version + 1, updated_at = 1 WHERE id = '\($0)' AND owner = 'ana' AND version = 1;"
    }.joined(separator: "\n")
    let rawCreates = Double(count) / (try sqlite3(raw, inserts))
    let rawGets = Double(count) / (try sqlite3(raw, selects))
    let rawUpdatesRate = Double(count) / (try sqlite3(raw, rawUpdates))

    print("| benchmark (\(count) small sessions, journal \(settings.journalMode), synchronous=\(synchronous)) | keep | sqlite3 shell | ratio | target |")
    print("|---|---|---|---|---|")
    for (name, keep, anchor) in [("creates/s", creates, rawCreates), ("gets/s", gets, rawGets), ("updates/s", updates, rawUpdatesRate)] {
        print("| \(name) | \(Int(keep)) | \(Int(anchor)) | \(format(keep / anchor))× | ≥ 0.5× |")
    }

    // A 1.4 MiB save: validate + hash + write, median of 15.
    let big = String(repeating: "{\"k\":\"0123456789abcdef\"},", count: 1_468_006 / 25)
    var saves: [Double] = []
    for i in 0 ..< 15 {
        let start = ContinuousClock.now
        _ = try await service.create(as: "ana", title: "big \(i)", content: big)
        saves.append(milliseconds(ContinuousClock.now - start))
    }
    let file = directory.appendingPathComponent("big.json")
    try Data(big.utf8).write(to: file)
    var anchors: [Double] = []
    for i in 0 ..< 15 {
        let start = ContinuousClock.now
        try run("/usr/bin/sha256sum", [file.path])
        _ = try sqlite3(raw, "PRAGMA synchronous=\(synchronous); INSERT INTO sessions VALUES ('big\(i)', 'ana', 't', 't', NULL, readfile('\(file.path)'), 'h', 1, 0, 0);")
        anchors.append(milliseconds(ContinuousClock.now - start))
    }
    let save = median(saves)
    let anchor = median(anchors)
    print("| 1.4 MiB save, median (\(big.utf8.count) bytes) | \(format(save)) ms | sha256sum + sqlite3 insert: \(format(anchor)) ms | \(format(save / anchor))× | < 10 ms |")
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// Runs SQL through the sqlite3 shell; returns the seconds it took.
@discardableResult
func sqlite3(_ database: String, _ sql: String) throws -> Double {
    let start = ContinuousClock.now
    try run("/usr/bin/sqlite3", [database], input: sql)
    let elapsed = ContinuousClock.now - start
    return milliseconds(elapsed) / 1000
}

func run(_ executable: String, _ arguments: [String], input: String? = nil) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let stdin = Pipe()
    process.standardInput = stdin
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    process.waitUntilExit()
}
