import KeepCore
import KeepLua

/// `policy.validate`, `policy.retry` and `policy.should_count` of the policy
/// test library: each builds what the store would hand the policy and calls
/// the loaded `PolicySet` on the store's own evaluation path and budget.
///
/// The judgement comes back as the store would use it: `validate` returns
/// nil or the rejection `{code =, message =}`. A broken policy (`policy`) or
/// one over its budget (`limit`) raises that error, so the test fails with
/// it; the store would refuse the write, or fall back to the built-in retry
/// schedule or visit rule.
struct PolicyTestBindings {
    let policies: PolicySet
    let now: () -> Timestamp

    static let documentFields = ["kind", "op", "owner", "title", "description", "content", "previous"]
    static let previousFields = ["title", "description", "version", "content", "updated_at"]
    static let logFields = ["visits", "last_visited_ms", "first_visited_ms", "visitor", "snapshot_id", "snapshot_owner"]
    /// The id of the document or snapshot a test does not name.
    static let placeholderID = "AAAAAAAAAAAA"

    /// [-0, +0] Sets the three functions in the table at `table`.
    func install(in stack: LuaStack, table: Int32) {
        let table = stack.absolute(table)
        stack.setFunction("validate", of: table) { stack in try validate(stack) }
        stack.setFunction("retry", of: table) { stack in try retry(stack) }
        stack.setFunction("should_count", of: table) { stack in try shouldCount(stack) }
    }

    /// policy.validate(doc) → nil when the rules accept, else {code =, message =}.
    private func validate(_ stack: LuaStack) throws -> Int32 {
        let candidate = try document(stack, 1)
        do throws(KeepError) {
            try policies.validate(candidate)
        } catch {
            guard error.code == .invalid || error.code == .tooLarge else { throw error }
            stack.newTable(fieldCapacity: 2)
            stack.push(error.code.rawValue); stack.setField("code", of: -2)
            stack.push(error.message); stack.setField("message", of: -2)
            return 1
        }
        stack.pushNil()
        return 1
    }

    /// The `doc` a write would hand validation.lua: defaults for what the
    /// test leaves out, `content_bytes` and `previous.content_bytes` from the content.
    private func document(_ stack: LuaStack, _ index: Int32) throws -> DocumentCandidate {
        let function = "policy.validate"
        guard stack.type(at: index) == .table else {
            throw KeepError(.invalid, "\(function): expected a document table {title =, content =, …}, got \(stack.typeName(at: index))")
        }
        if stack.rawField("content_bytes", of: index) != .nil {
            throw KeepError(.invalid, "\(function): content_bytes is computed from content, as in the store; "
                + "give content instead (N bytes: content = (\"x\"):rep(N))")
        }
        let options = try OptionTable(stack, index, function: function, allowed: Self.documentFields)
        let kind = try options.text("kind").map { text in
            guard let kind = DocumentCandidate.Kind(rawValue: text) else {
                throw KeepError(.invalid, "\(function): kind is 'session' or 'snapshot', not '\(text)'")
            }
            return kind
        } ?? .session
        let owner = try options.text("owner") ?? "tester"
        let title = try options.text("title") ?? ""
        let description = try options.description("description") ?? nil
        let content = try options.content("content") ?? ""
        let hasPrevious = options.push("previous") != .nil
        stack.pop()
        let operation = try options.text("op").map { text in
            guard let operation = DocumentCandidate.Operation(rawValue: text) else {
                throw KeepError(.invalid, "\(function): op is 'create' or 'update', not '\(text)'")
            }
            return operation
        } ?? (hasPrevious ? .update : .create)
        var candidate = DocumentCandidate(kind: kind, operation: operation, owner: owner, title: title,
                                          description: description, content: content)
        switch operation {
        case .create where hasPrevious:
            throw KeepError(.invalid, "\(function): previous is given with op = 'update' only; a create has no previous document")
        case .create:
            break
        case .update:
            options.push("previous")
            defer { stack.pop() }
            let previous = try OptionTable(stack, -1, function: "\(function) previous", allowed: Self.previousFields)
            let version = try previous.integer("version") ?? 1
            guard version >= 1 else {
                throw KeepError(.invalid, "\(function): previous.version is 1 or more, not \(version)")
            }
            let stored = try previous.content("content") ?? content
            let updatedAt = try previous.timestamp("updated_at") ?? now()
            candidate.previous = Session(
                id: try ResourceID(Self.placeholderID), owner: owner, title: try previous.text("title") ?? title,
                description: try previous.description("description") ?? description, content: stored,
                hash: ContentHash(of: stored), version: version, createdAt: updatedAt, updatedAt: updatedAt)
        }
        return candidate
    }

    /// policy.retry(kind, attempt [, err]) → the delay in ms, or nil to give up.
    private func retry(_ stack: LuaStack) throws -> Int32 {
        let kind = try stack.checkText(1)
        let attempt = try stack.checkInteger(2)
        guard attempt >= 1 else { throw stack.argumentError(2, "attempt is 1 or more, got \(attempt)") }
        let error = try stack.optionalText(3) ?? "error"
        if let delay = try policies.retryDelay(kind: kind, attempt: Int(attempt), error: error) {
            stack.push(delay)
        } else {
            stack.pushNil()
        }
        return 1
    }

    /// policy.should_count(log, now) → whether the visit counts (visits.lua,
    /// else the built-in 5-minute rule, as in the store).
    private func shouldCount(_ stack: LuaStack) throws -> Int32 {
        let function = "policy.should_count"
        try stack.checkTable(1)
        let options = try OptionTable(stack, 1, function: function, allowed: Self.logFields)
        let now = Timestamp(millisecondsSinceEpoch: try stack.checkInteger(2))
        guard let last = try options.integer("last_visited_ms") else {
            throw KeepError(.invalid, "\(function): the log needs last_visited_ms (ms since the epoch)")
        }
        let first = Timestamp(millisecondsSinceEpoch: try options.integer("first_visited_ms") ?? last)
        let log = AccessLog(
            visitor: try options.text("visitor") ?? "tester",
            snapshotID: try ResourceID(try options.text("snapshot_id") ?? Self.placeholderID),
            snapshotOwner: try options.text("snapshot_owner") ?? "owner", visits: try options.integer("visits") ?? 1,
            firstVisitedAt: first, lastVisitedAt: Timestamp(millisecondsSinceEpoch: last), snapshotTitle: "",
            snapshotDescription: nil, snapshotCreatedAt: first, snapshotHash: ContentHash(of: ""),
            snapshotDeleted: false, snapshotDeletedAt: nil)
        stack.push(try policies.countsVisit(log, now: now) ?? IntervalVisitPolicy().shouldCount(log, now: now))
        return 1
    }
}
