import Foundation
import KeepCore
import KeepLua
import KeepRuntime
import KeepScripting
import KeepTestSupport
import Synchronization

/// A Lua state with the `keep` API over a fresh database of `kind`, built
/// as the CLI builds it (KeepRuntime), in this process.
///
/// Unchecked: one test uses it, one call at a time (each `run` is awaited),
/// so the state is never used by two threads at once.
final class ScriptingHarness: @unchecked Sendable {
    let state: LuaState
    let context: ScriptContext
    let directory: URL
    let database: String
    /// What the services warned about (policy failures, failed reloads).
    let warnings = Warnings()

    final class Warnings: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    init(_ kind: BackendKind, user: String = "ana", policies: String? = nil) throws {
        directory = try TemporaryDirectory.make("keep-scripting")
        database = kind == .postgres ? try BackendKind.freshPostgresURL() : directory.appendingPathComponent("keep.sqlite").path
        state = try LuaState(trust: .trusted)
        let warnings = self.warnings
        let configuration = RuntimeConfiguration(database: database, policyDirectory: policies, holder: "test",
                                                 warn: { warnings.append($0) })
        let recovery = ScriptContext.RecoveryLocation(root: directory.appendingPathComponent("recovery").path,
                                                      databasePath: database)
        context = ScriptContext(user: try UserID(checking: user), recovery: recovery) { try KeepServices(configuration) }
        KeepAPI.install(in: state, context: context)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Ends the script as `keep run` does: journals working copies, closes the store.
    func finish() async throws {
        try await onThread { [self] in context.finish() }
    }

    /// Runs `source` on a thread of its own (the API waits for store work)
    /// and returns its results as text (strings as they are, other values described).
    @discardableResult
    func run(_ source: String) async throws -> [String] {
        try await onThread { [self] in try runHere(source) }
    }

    private func runHere(_ source: String) throws -> [String] {
        try state.execute(source).map { value in
            switch value {
            case .string: value.text ?? "<bytes>"
            case .integer(let number): String(number)
            case .boolean(let flag): String(flag)
            case .nil: "nil"
            default: "\(value)"
            }
        }
    }
}
