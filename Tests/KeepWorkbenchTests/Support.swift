import Foundation
import KeepCore
import KeepPolicy
import KeepSQLite
import KeepStore
import KeepTestSupport
import KeepWorkbench
import Synchronization
import Testing

/// Session storage that counts reads and can hold an update until released,
/// so a test can act while a save is in flight.
final class GatedStorage: SessionStorage, @unchecked Sendable {
    let base: SQLiteBackend
    private let state = Mutex<(reads: Int, holdUpdates: Bool, held: [CheckedContinuation<Void, Never>])>((0, false, []))
    /// Reads fail with `unavailable` while set (the store went away).
    let failReads = Mutex(false)

    init(_ base: SQLiteBackend) { self.base = base }

    var reads: Int { state.withLock { $0.reads } }
    var heldUpdates: Int { state.withLock { $0.held.count } }

    func holdUpdates() { state.withLock { $0.holdUpdates = true } }

    func releaseUpdates() {
        let held = state.withLock { state in
            state.holdUpdates = false
            defer { state.held = [] }
            return state.held
        }
        for continuation in held { continuation.resume() }
    }

    func insertSession(_ session: Session) async throws { try await base.insertSession(session) }
    func session(id: ResourceID, owner: UserID) async throws -> Session? {
        state.withLock { $0.reads += 1 }
        if failReads.withLock({ $0 }) { throw KeepError(.unavailable, "the store is not reachable") }
        return try await base.session(id: id, owner: owner)
    }
    func replaceSession(_ session: Session, ifVersion version: Int64) async throws -> Bool {
        await withCheckedContinuation { continuation in
            let hold = state.withLock { state in
                if state.holdUpdates { state.held.append(continuation) }
                return state.holdUpdates
            }
            if !hold { continuation.resume() }
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

/// A database file, a recovery-journal folder and a policy folder in a fresh
/// temporary directory; `process()` makes a workbench as one process would
/// (its own connection to the database), so two of them are two editors.
final class WorkbenchFixture: @unchecked Sendable {
    let directory: String
    let databasePath: String
    let journalRoot: String
    let policyFolder: String
    let clock = TestClock()

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("keep-workbench-\(UUID().uuidString)").path
        databasePath = directory + "/keep.sqlite"
        journalRoot = directory + "/state/keep/recovery"
        policyFolder = directory + "/policies"
        try FileManager.default.createDirectory(atPath: policyFolder, withIntermediateDirectories: true)
        let shipped = Checkout.policies.path
        for file in ["validation.lua", "retry.lua", "save.lua"] {
            try FileManager.default.copyItem(atPath: shipped + "/" + file, toPath: policyFolder + "/" + file)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Replaces save.lua (the rest of the folder stays the shipped one).
    func writeSavePolicy(_ source: String) throws {
        try source.write(toFile: policyFolder + "/save.lua", atomically: true, encoding: .utf8)
    }

    func registry() throws -> PolicyRegistry {
        try PolicyRegistry(directory: policyFolder, clock: clock.clock.now)
    }

    struct Process {
        let workbench: Workbench
        let storage: GatedStorage
        let diagnostics: Diagnostics
    }

    final class Diagnostics: @unchecked Sendable {
        let lines = Mutex<[String]>([])
        func report(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    func process(policy: (any SavePolicy)? = nil, activity: ActivityState = .visible,
                 journalRoot: String? = nil) throws -> Process {
        let storage = GatedStorage(try SQLiteBackend(path: databasePath))
        let diagnostics = Diagnostics()
        let workbench = Workbench(sessions: SessionService(storage: storage, clock: clock.clock),
                                  policy: try policy ?? registry(),
                                  journal: RecoveryJournal(root: journalRoot ?? self.journalRoot, database: databasePath),
                                  timers: TimerQueue(clock: clock.clock), activity: ActivityObserver(state: activity),
                                  diagnostics: { diagnostics.report($0) })
        return Process(workbench: workbench, storage: storage, diagnostics: diagnostics)
    }

    /// Two dashboards, as the reference front end stores them.
    static let dashboards = #"{"dashboards":[{"id":"d1","name":"Logs","modules":[{"id":"m1","kind":"WellLogViewer"}]},{"id":"d2","name":"Map","modules":[{"id":"m2","kind":"MapView"}]}],"version":3}"#
}
