import KeepCore
import KeepLua
import KeepMigrate
import KeepStore
import KeepWorkbench

/// Writing a working copy to the store: `w:save{…}`, `w:save_as{…}`,
/// `w:snapshot{…}`, and `w:diff()` to see what a save would change.
extension WorkbenchObjects {
    func defineSaving() {
        hostClass.method("save") { [weak self] handle, stack in
            guard let self else { throw WorkbenchObjects.released }
            let onConflict = try Self.conflictDecision(stack, 2)
            let workbench = try self.workbench
            let copy = handle.copy
            switch try blocking({ try await workbench.save(copy, onConflict: onConflict) }) {
            case .saved(let resolution):
                stack.push("saved")
                stack.push(resolution.rawValue)
                return 2
            case .noChanges: stack.push("no_changes")
            case .inProgress: stack.push("in_progress")
            }
            return 1
        }
        hostClass.method("diff") { [weak self] handle, stack in
            guard let self else { throw WorkbenchObjects.released }
            return try self.diff(handle.copy, stack)
        }
        hostClass.method("save_as") { [weak self] handle, stack in
            guard let self else { throw WorkbenchObjects.released }
            let options = try OptionTable(stack, 2, function: "WorkingCopy:save_as", allowed: ["title", "description"])
            let (title, description) = (try options.text("title"), try options.description("description"))
            let workbench = try self.workbench
            let copy = handle.copy
            try blocking { try await workbench.saveAs(copy, title: title, description: description) }
            stack.push("saved")
            return 1
        }
        hostClass.method("snapshot") { [weak self] handle, stack in
            guard let self else { throw WorkbenchObjects.released }
            return try self.snapshot(handle.copy, stack)
        }
    }

    /// w:snapshot{title=, description=} → a Snapshot of the copy's content as it is now (saved or not).
    private func snapshot(_ copy: WorkingCopy, _ stack: LuaStack) throws -> Int32 {
        let options = try OptionTable(stack, 2, function: "WorkingCopy:snapshot", allowed: ["title", "description"])
        _ = try workbench
        guard !copy.isClosed else { throw KeepError(.invalid, "working copy \(copy.copyID) is closed; open the session again") }
        guard let snapshots else { throw KeepError(.internal, "snapshots are not installed") }
        return try snapshots.create(title: try options.text("title") ?? copy.title,
                                    description: try options.description("description") ?? copy.description,
                                    content: copy.content, on: stack)
    }

    /// The options of `w:save{on_conflict = choice, fallback = choice}`: what
    /// this save does on a conflict instead of save.lua's `on_conflict`; nil
    /// (the policy decides) when not given.
    static func conflictDecision(_ stack: LuaStack, _ index: Int32) throws -> ConflictDecision? {
        let options = try OptionTable(stack, index, function: "WorkingCopy:save", allowed: ["on_conflict", "fallback"])
        let choices = ConflictChoice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        func choice(_ key: String) throws -> ConflictChoice? {
            guard let text = try options.text(key) else { return nil }
            guard let choice = ConflictChoice(rawValue: text) else {
                throw KeepError(.invalid, "WorkingCopy:save: \(key) must be one of \(choices), got \"\(text)\"")
            }
            return choice
        }
        let fallback = try choice("fallback")
        guard let chosen = try choice("on_conflict") else {
            if fallback != nil { throw KeepError(.invalid, "WorkingCopy:save: fallback goes with on_conflict = \"merge\"") }
            return nil
        }
        if let fallback {
            guard chosen == .merge else {
                throw KeepError(.invalid, "WorkingCopy:save: fallback goes with on_conflict = \"merge\", not \"\(chosen.rawValue)\"")
            }
            guard fallback != .merge else {
                throw KeepError(.invalid, "WorkingCopy:save: merge's fallback must be \"reject\", \"overwrite\" or \"fork\"")
            }
        }
        return ConflictDecision(chosen, fallback: fallback ?? .reject)
    }

    /// w:diff() → what saving would change in the stored session, as text
    /// (nil when nothing): title and description changes, then the content's
    /// changed lines (canonical JSON, `-` stored, `+` this copy), the diff
    /// `keep migrate plan` shows. A new copy is compared with nothing.
    private func diff(_ copy: WorkingCopy, _ stack: LuaStack) throws -> Int32 {
        _ = try workbench
        var stored: Session?
        if let id = copy.sessionID {
            let (user, service) = (context.user, try context.sessions)
            stored = try blocking { try await service.get(as: user, id: id) }
        }
        /// Canonical JSON when the text is JSON (so key order and spacing do not show), else the text.
        func canonical(_ text: String) -> String {
            guard !text.isEmpty, (try? stack.pushDecodedJSON(text)) != nil else { return text }
            defer { stack.pop() }
            return (try? stack.canonicalJSON(at: -1)) ?? text
        }
        func quoted(_ text: String?) -> String { text.map { "\"\($0)\"" } ?? "nil" }
        var lines: [String] = []
        if stored?.title != copy.title { lines.append("title: \(quoted(stored?.title)) → \(quoted(copy.title))") }
        if stored?.description != copy.description {
            lines.append("description: \(quoted(stored?.description)) → \(quoted(copy.description))")
        }
        let (before, after) = (canonical(stored?.content ?? ""), canonical(copy.content))
        if before != after { lines += ContentDiff.lines(before: before, after: after) }
        guard !lines.isEmpty else {
            stack.pushNil()
            return 1
        }
        let header = stored.map { "--- session \($0.id) v\($0.version) (stored)" } ?? "--- (not saved yet)"
        stack.push(([header, "+++ working copy \(copy.copyID)"] + lines).joined(separator: "\n"))
        return 1
    }
}
