import Foundation
import KeepCore
import KeepJSON
import KeepLua
import Synchronization

/// A migration file loaded into its own sandboxed Lua state, ready to
/// transform documents one at a time.
///
/// Each document is one budgeted call: `up(doc)` gets a fresh table with
/// `id owner kind title description data`; what it leaves in `title`,
/// `description` and `data` is the new document. Content is compared in
/// canonical form, so a migration that changes nothing writes nothing even
/// when the stored text was not canonical.
///
/// One document at a time: a lock serializes use of the state, since the
/// store may call back (`redo`) from its writer while the runner transforms
/// the next batch.
public final class MigrationScript: Sendable {
    public let file: MigrationFile
    public let description: String
    public let target: MigrationTarget
    let validator: any DocumentValidator
    let budget: LuaBudget
    private let loaded: Mutex<Loaded>

    /// The state and what it ran, used under the lock only.
    private struct Loaded {
        let lua: LuaState
        /// The runner function: calls `up` and returns the three fields.
        let runner: Int32
        /// What `up` did that had no effect (`warnings`).
        var noticed: [String] = []
    }

    /// Per document: generous for real transformations, finite so that a
    /// runaway loop fails its document instead of hanging the run.
    public static let defaultBudget = LuaBudget(instructions: 50_000_000, memory: 512 << 20, interruptible: true)

    public init(file: MigrationFile, root: String, validator: any DocumentValidator = DefaultValidation(),
                budget: LuaBudget = MigrationScript.defaultBudget) throws(KeepError) {
        self.file = file
        self.validator = validator
        self.budget = budget
        let lua = try LuaState(trust: .sandboxed(roots: [root]))
        let chunkName = "@" + file.fileName
        do throws(LuaError) {
            try lua.load(file.source, chunkName: chunkName)
            try lua.call(arguments: 0, results: 1, budget: .policy)
        } catch {
            throw KeepError(error.keepError?.code == .interrupted ? .interrupted : .invalid,
                            "\(file.fileName) failed to load: \(error.description)",
                            details: ["file": .text(file.fileName), "traceback": .text(error.traceback ?? "")])
        }
        let (description, target, runner) = try Self.readShape(of: file, in: lua)
        loaded = Mutex(Loaded(lua: lua, runner: runner))
        self.description = description
        self.target = target
    }

    /// [-1, +0] Checks the table the file returned (on top) and builds the
    /// runner around its `up`: the description, the target and the runner's reference.
    private static func readShape(of file: MigrationFile, in lua: LuaState) throws(KeepError)
        -> (description: String, target: MigrationTarget, runner: Int32) {
        let stack = lua.stack
        guard stack.type(at: -1) == .table else {
            let got = stack.typeName(at: -1)
            stack.pop()
            throw shapeError(file, "must return a table { description = …, target = …, up = function(doc) … end }, got \(got)")
        }
        defer { stack.pop() }
        guard case .string(let descriptionBytes) = stack.rawField("description", of: -1),
              let description = String(validating: descriptionBytes, as: UTF8.self), !description.isEmpty else {
            throw shapeError(file, "needs description = \"what this migration does\" (a non-empty string)")
        }
        let targets = MigrationTarget.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard case .string(let targetBytes) = stack.rawField("target", of: -1),
              let target = MigrationTarget(rawValue: String(decoding: targetBytes, as: UTF8.self)) else {
            throw shapeError(file, "needs target = one of \(targets)")
        }
        guard stack.pushField("up", of: -1) == .function else {
            stack.pop()
            throw shapeError(file, "needs up = function(doc) … end")
        }
        do throws(LuaError) {
            try lua.load(Array(runnerSource.utf8), chunkName: "=(keep migration runner)")
            stack.insert(at: -2)
            try lua.call(arguments: 1, results: 1, budget: .policy)
        } catch {
            throw KeepError(.internal, "migration runner: \(error.message)")
        }
        return (description, target, stack.popReference())
    }

    /// Calls `up` and returns the three fields it may change, then what it
    /// did that has no effect (a warning, or nil): returning values, or
    /// changing one of the read-only facts.
    static let runnerSource = """
        local up = ...
        local select = select
        return function(doc)
          local id, owner, kind = doc.id, doc.owner, doc.kind
          local count, first = select("#", up(doc)), nil
          local warning
          if doc.id ~= id or doc.owner ~= owner or doc.kind ~= kind then
            warning = "up changes doc.id, doc.owner or doc.kind, which has no effect: they are read-only facts; "
              .. "a migration changes doc.data, doc.title and doc.description"
          elseif count > 0 then
            warning = "up returns a value, which is ignored: change doc in place (doc.data, doc.title, "
              .. "doc.description) or assign doc.data = new_value"
          end
          return doc.title, doc.description, doc.data, warning
        end
        """

    /// What `up` did that had no effect, each said once, with the first
    /// document it happened on (the report shows them as warnings).
    public var warnings: [String] { loaded.withLock { $0.noticed } }

    static func shapeError(_ file: MigrationFile, _ problem: String) -> KeepError {
        KeepError(.invalid, "\(file.fileName) \(problem)", details: ["file": .text(file.fileName)])
    }

    /// Runs `up` on one document. Per-document failures are outcomes; only
    /// an interruption (Ctrl-C) throws, since it must stop the whole run.
    public func transform(_ document: MigrationDocument) throws(KeepError) -> MigrationOutcome {
        try loaded.withLock { loaded throws(KeepError) -> MigrationOutcome in try transform(document, &loaded) }
    }

    private func transform(_ document: MigrationDocument, _ loaded: inout Loaded) throws(KeepError) -> MigrationOutcome {
        let lua = loaded.lua
        let stack = lua.stack
        let base = stack.top
        defer { stack.setTop(base) }
        stack.push(reference: loaded.runner)
        stack.newTable(fieldCapacity: 6)
        stack.push(document.id.rawValue)
        stack.setField("id", of: -2)
        stack.push(document.owner)
        stack.setField("owner", of: -2)
        stack.push(document.kind.rawValue)
        stack.setField("kind", of: -2)
        stack.push(document.title)
        stack.setField("title", of: -2)
        if let description = document.description {
            stack.push(description)
            stack.setField("description", of: -2)
        }
        do {
            try stack.pushDecodedJSON(document.content)
        } catch {
            return .failed("its content is not JSON (\(error.message)); a migration reads JSON content only")
        }
        stack.setField("data", of: -2)
        do throws(LuaError) {
            try lua.call(arguments: 1, results: 4, budget: budget)
        } catch {
            if error.keepError?.code == .interrupted { throw KeepError(.interrupted, "the migration was interrupted") }
            return .failed(error.description)
        }
        if let warning = stack.text(at: -1), !loaded.noticed.contains(where: { $0.hasPrefix(warning) }) {
            loaded.noticed.append("\(warning) (first seen on \(document.kind.rawValue) \(document.id))")
        }
        stack.pop()
        guard stack.type(at: -3) == .string else {
            return .failed("up left doc.title as \(stack.typeName(at: -3)); it must be a string")
        }
        guard let title = stack.text(at: -3) else {
            return .failed("up left doc.title that is not valid UTF-8; titles are UTF-8 text")
        }
        let description: String?
        switch stack.type(at: -2) {
        case .nil: description = nil
        case .string:
            guard let text = stack.text(at: -2) else {
                return .failed("up left doc.description that is not valid UTF-8; descriptions are UTF-8 text")
            }
            description = text
        default: return .failed("up left doc.description as \(stack.typeName(at: -2)); it must be a string or nil")
        }
        let encoded: String
        do {
            encoded = try stack.canonicalJSON(at: -1)
        } catch {
            return .failed("up left doc.data that is not JSON: \(error.message)")
        }
        var after = document
        after.title = title.trimmingWhitespace()
        after.description = description
        if encoded != document.content, !(try Self.isCanonicalForm(of: document.content, encoded, stack)) {
            after.content = encoded
            after.hash = ContentHash(of: encoded)
        }
        if after.sameFields(as: document) { return .unchanged }
        let candidate = DocumentCandidate(kind: document.kind, operation: .update, owner: document.owner,
                                          title: after.title, description: after.description, content: after.content)
        do {
            try validator.admit(candidate)
        } catch {
            return .failed(error.description)
        }
        return .changed(after)
    }

    /// Whether `canonical` is the canonical form of the stored `content` (which
    /// was stored as given, maybe compact): then the content did not change.
    /// Content stored canonical (as the workbench and Keep store it) differs
    /// from `canonical`, so the answer is no without decoding it again.
    private static func isCanonicalForm(of content: String, _ canonical: String, _ stack: LuaStack) throws(KeepError) -> Bool {
        if CanonicalJSON.isCanonical(content) { return false }
        guard let text = try? canonicalText(of: content, stack) else { return false }
        return text == canonical
    }

    /// The canonical JSON text of `content`.
    func canonicalText(of content: String) throws(KeepError) -> String {
        try loaded.withLock { loaded throws(KeepError) -> String in try Self.canonicalText(of: content, loaded.lua.stack) }
    }

    private static func canonicalText(of content: String, _ stack: LuaStack) throws(KeepError) -> String {
        try stack.pushDecodedJSON(content)
        defer { stack.pop() }
        return try stack.canonicalJSON(at: -1)
    }
}
