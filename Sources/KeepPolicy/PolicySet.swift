import KeepCore
import KeepLua
import Foundation
import Synchronization

/// One loaded set of policy scripts (SPEC §4): `validation.lua`, `retry.lua`,
/// `save.lua` and, optionally, `visits.lua`, from one folder, in one
/// sandboxed Lua state. Loading checks the shape of what each file returns;
/// a set that loads is complete and consistent, and never changes afterwards.
///
/// Policy functions run under `LuaBudget.policy` and see plain tables only:
/// they cannot reach the stores. Evaluations are serialized by a lock (one
/// state per set; docs/policies.md "Concurrency" says why there is no pool).
public final class PolicySet: Sendable {
    public let directory: String
    public let loadedAt: Timestamp
    public let files: [String]
    /// Settings of save.lua, read once at load.
    public let save: SaveSettings
    /// Where hooks that fall back to the built-in default record their failure.
    public let failures: PolicyFailureLog
    /// The state, used under its lock only (`withState`).
    private let loaded: Mutex<LoadedState>

    /// The Lua state and the registry references of what the files returned.
    final class LoadedState {
        let lua: LuaState
        /// One Lua function that runs every rule in name order and returns
        /// (name, result) pairs of the rules that rejected: one protected,
        /// budgeted call per validation instead of one per rule.
        let validationRunner: Int32
        let retry: Int32
        let visits: Int32?
        /// save.lua's table (its hooks are looked up per call).
        let save: Int32
        /// The metatable of `doc` tables (its __index hands over `content` on first read).
        let documentMetatable: Int32
        let content: ContentSlot

        init(lua: LuaState, validationRunner: Int32, retry: Int32,
             visits: Int32?, save: Int32, documentMetatable: Int32, content: ContentSlot) {
            self.lua = lua
            self.validationRunner = validationRunner
            self.retry = retry
            self.visits = visits
            self.save = save
            self.documentMetatable = documentMetatable
            self.content = content
        }
    }

    /// The content of the document being validated, read by `doc.content`'s
    /// __index only while the lock is held (it belongs to the `LoadedState`).
    final class ContentSlot {
        var content: String = ""
    }

    public static let requiredFiles = ["validation.lua", "retry.lua", "save.lua"]
    public static let optionalFiles = ["visits.lua"]

    /// Loads every policy file of `directory` into a fresh state. `failures`
    /// is shared by the sets of one registry, so that counts survive reloads.
    public init(directory: String, clock: @escaping @Sendable () -> Timestamp,
                failures: PolicyFailureLog? = nil) throws(KeepError) {
        try PolicyFolder.check(directory)
        self.directory = directory
        self.failures = failures ?? PolicyFailureLog(clock: clock)
        let folder = directory.split(separator: "/").last.map(String.init) ?? directory
        let lua = try LuaState(trust: .sandboxed(roots: [directory]))
        var present: [String] = []
        var references: [String: Int32] = [:]
        for file in Self.requiredFiles + Self.optionalFiles {
            let path = directory + "/" + file
            let source: [UInt8]
            do {
                source = try LuaFiles.read(path)
            } catch {
                if Self.optionalFiles.contains(file) { continue }
                throw KeepError(.policy, "\(path) is missing; a policy folder holds "
                    + Self.requiredFiles.joined(separator: ", ") + " (and optionally visits.lua)")
            }
            let chunkName = "@\(folder)/\(file)"
            do throws(LuaError) {
                try lua.load(source, chunkName: chunkName)
                try lua.call(arguments: 0, results: 1, budget: .policy)
            } catch {
                throw Self.failure(error, file: "\(folder)/\(file)")
            }
            guard lua.stack.type(at: -1) == .table else {
                let got = lua.stack.typeName(at: -1)
                lua.stack.pop()
                throw KeepError(.policy, "\(folder)/\(file) must return a table, got \(got)")
            }
            present.append(file)
            references[file] = lua.stack.popReference()
        }
        let shapes = PolicyShapes(stack: lua.stack, folder: folder)
        let rules = try shapes.validation(references["validation.lua"]!)
        try shapes.retry(references["retry.lua"]!)
        if let visits = references["visits.lua"] { try shapes.visits(visits) }
        save = try shapes.save(references["save.lua"]!)

        let content = ContentSlot()
        let stack = lua.stack
        stack.newTable(fieldCapacity: 2)
        stack.setFunction("__index", of: -1) { stack in
            // Only `content` is lazy: copying 1.5 MiB into Lua is paid by the rules that read it.
            guard stack.text(at: 2) == "content" else { stack.pushNil(); return 1 }
            stack.push(content.content)
            stack.pushCopy(of: -1)
            stack.setField("content", of: 1)
            return 1
        }
        let documentMetatable = stack.popReference()
        let runner = try Self.makeRunner(lua, rules: rules)
        files = present
        loadedAt = clock()
        loaded = Mutex(LoadedState(lua: lua, validationRunner: runner, retry: references["retry.lua"]!,
                                  visits: references["visits.lua"], save: references["save.lua"]!,
                                  documentMetatable: documentMetatable,
                                  content: content))
    }

    static let runnerSource = """
        local names, rules = ...
        local count, unpack = #names, table.unpack
        return function(doc, ctx)
          local failed
          for i = 1, count do
            local name = names[i]
            local result = rules[i](doc, ctx)
            if result ~= nil then
              failed = failed or {}
              failed[#failed + 1] = name
              failed[#failed + 1] = result
            end
          end
          if failed then return unpack(failed) end
        end
        """

    /// [-0, +0] Builds the rule runner; returns its registry reference.
    static func makeRunner(_ lua: LuaState, rules: [(name: String, reference: Int32)]) throws(KeepError) -> Int32 {
        let stack = lua.stack
        do throws(LuaError) {
            try lua.load(Array(runnerSource.utf8), chunkName: "=(keep rule runner)")
            stack.newTable(arrayCapacity: Int32(rules.count))
            stack.newTable(arrayCapacity: Int32(rules.count))
            for (index, rule) in rules.enumerated() {
                stack.push(rule.name)
                stack.setIndex(Int64(index + 1), of: -3)
                stack.push(reference: rule.reference)
                stack.setIndex(Int64(index + 1), of: -2)
            }
            try lua.call(arguments: 2, results: 1, budget: .policy)
        } catch {
            throw KeepError(.internal, "policy rule runner: \(error.message)")
        }
        return stack.popReference()
    }

    static func failure(_ error: LuaError, file: String) -> KeepError {
        if let keepError = error.keepError, keepError.code == .limit || keepError.code == .interrupted {
            return KeepError(keepError.code, "\(file): \(keepError.message)", details: ["file": .text(file)])
        }
        var message = error.description
        if !message.contains(file) { message = "\(file): \(message)" }
        return KeepError(.policy, message, details: ["file": .text(file), "traceback": .text(error.traceback ?? "")])
    }

    /// Runs `body` with the state, serialized.
    func withState<T: Sendable>(_ body: (LoadedState) throws(KeepError) -> T) throws(KeepError) -> T {
        try loaded.withLock { loaded throws(KeepError) -> T in try body(loaded) }
    }
}

/// Checks on a policy folder's path, before anything is read from it.
public enum PolicyFolder {
    /// Why `path` cannot be a policy folder ("does not exist", "is not a
    /// folder"), or nil when it is a folder.
    public static func problem(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "does not exist" }
        return isDirectory.boolValue ? nil : "is not a folder"
    }

    /// Throws `not_found` naming `path` when it is not a folder.
    public static func check(_ path: String) throws(KeepError) {
        if let problem = problem(path) {
            throw KeepError(.notFound, "the policy folder \(path) \(problem)", details: ["folder": .text(path)])
        }
    }
}
