import KeepCore
import KeepLua

extension PolicySet: DocumentValidator {
    /// Runs every rule of validation.lua (in name order) on the candidate;
    /// rejects with all their messages. The Swift hard ceilings are checked
    /// by the services before this runs.
    public func validate(_ candidate: DocumentCandidate) throws(KeepError) {
        try withState { loaded throws(KeepError) in
            let lua = loaded.lua
            let stack = lua.stack
            let top = stack.top
            defer { stack.setTop(top) }
            loaded.content.content = candidate.content
            defer { loaded.content.content = "" }
            Self.pushDocument(candidate, on: stack, metatable: loaded.documentMetatable)
            let document = stack.top
            stack.newTable(fieldCapacity: 1)
            let context = stack.top
            var messages: [String] = []
            var failedRules: [String] = []
            var code = KeepError.Code.invalid
            let base = stack.top
            stack.push(reference: loaded.validationRunner)
            stack.pushCopy(of: document)
            stack.pushCopy(of: context)
            do throws(LuaError) {
                try lua.call(arguments: 2, results: LuaStack.allResults, budget: .policy)
            } catch {
                throw Self.failure(error, file: "validation.lua")
            }
            // (name, result) pairs of the rules that rejected.
            var slot = base + 1
            while slot < stack.top {
                let name = stack.text(at: slot) ?? "?"
                stack.pushCopy(of: slot + 1)
                let found = try Self.rejections(stack, rule: name)
                stack.pop()
                if !found.messages.isEmpty {
                    messages += found.messages
                    failedRules.append(name)
                    if found.code == .tooLarge { code = .tooLarge }
                }
                slot += 2
            }
            guard messages.isEmpty else {
                throw KeepError(code, messages.joined(separator: "; "), details: ["rules": .text(failedRules.joined(separator: ","))])
            }
        }
    }

    /// [-0, +1] The `doc` of validation rules; `content` is handed over on first read.
    static func pushDocument(_ candidate: DocumentCandidate, on stack: LuaStack, metatable: Int32) {
        stack.newTable(fieldCapacity: 8)
        stack.push(candidate.kind.rawValue); stack.setField("kind", of: -2)
        stack.push(candidate.operation.rawValue); stack.setField("op", of: -2)
        stack.push(candidate.owner); stack.setField("owner", of: -2)
        stack.push(candidate.title); stack.setField("title", of: -2)
        if let description = candidate.description { stack.push(description); stack.setField("description", of: -2) }
        stack.push(candidate.contentBytes); stack.setField("content_bytes", of: -2)
        if let previous = candidate.previous {
            stack.newTable(fieldCapacity: 6)
            stack.push(previous.title); stack.setField("title", of: -2)
            if let description = previous.description { stack.push(description); stack.setField("description", of: -2) }
            stack.push(previous.version); stack.setField("version", of: -2)
            stack.push(previous.hash.hex); stack.setField("hash", of: -2)
            stack.push(previous.content.utf8.count); stack.setField("content_bytes", of: -2)
            stack.push(previous.updatedAt.iso8601); stack.setField("updated_at", of: -2)
            stack.setField("previous", of: -2)
        }
        stack.push(reference: metatable)
        stack.setMetatable(of: -2)
    }

    /// What a rule returned: nothing, a message, a list of messages, or
    /// `{code =, message =}`. Anything else is a broken rule, refused as
    /// `policy` rather than taken as "no objection".
    static func rejections(_ stack: LuaStack, rule: String) throws(KeepError) -> (code: KeepError.Code, messages: [String]) {
        func broken(_ what: String) -> KeepError {
            KeepError(.policy, "validation rule \(rule) returned \(what); a rule returns nothing to accept, or a message, "
                + "a list of messages or {code = \"invalid\" or \"too_large\", message = …} to reject",
                details: ["rule": .text(rule)])
        }
        switch stack.type(at: -1) {
        case .nil:
            return (.invalid, [])
        case .string:
            return (.invalid, [stack.text(at: -1) ?? "(not UTF-8)"])
        case .table:
            break
        default:
            throw broken("a \(stack.typeName(at: -1))")
        }
        let table = stack.absolute(-1)
        var code: String?
        var message: String?
        var list: [Int64: String] = [:]
        try stack.forEachEntry(of: table) { () throws(KeepError) in
            // The key is only read as text when it is a string (reading a number key as text would change it).
            if case .integer(let index) = stack.value(at: -2), index >= 1 {
                guard stack.type(at: -1) == .string else {
                    throw broken("a list whose item \(index) is a \(stack.typeName(at: -1)), not a message")
                }
                list[index] = stack.text(at: -1) ?? "(not UTF-8)"
            } else if stack.type(at: -2) == .string, let key = stack.text(at: -2), key == "code" || key == "message" {
                guard stack.type(at: -1) == .string, let text = stack.text(at: -1) else {
                    throw broken("a table whose \(key) is a \(stack.typeName(at: -1)), not a string")
                }
                if key == "code" { code = text } else { message = text }
            } else {
                let key = stack.type(at: -2) == .string ? "'\(stack.text(at: -2) ?? "?")'" : "of type \(stack.typeName(at: -2))"
                throw broken("a table with the key \(key)")
            }
        }
        if code != nil || message != nil {
            guard let message else { throw broken("a table with code but no message") }
            guard list.isEmpty else { throw broken("a table with both a message field and a list of messages") }
            let code = code ?? "invalid"
            guard code == "invalid" || code == "too_large" else {
                throw broken("code '\(code)'")
            }
            return (KeepError.Code(rawValue: code), [message])
        }
        guard list.count == list.keys.max() ?? 0 else { throw broken("a list of messages with holes") }
        return (.invalid, list.keys.sorted().map { list[$0]! })
    }
}

extension PolicySet: RetrySchedule {
    /// retry.lua's function for `kind` (else `default`); a failing policy
    /// falls back to the built-in schedule so that jobs are never stuck, and
    /// is recorded in `failures`.
    public func delay(kind: JobKind, attempt: Int, error: String) -> Int64? {
        do {
            return try retryDelay(kind: kind.rawValue, attempt: attempt, error: error)
        } catch let failure {
            failures.record(hook: "retry." + kind.rawValue, failure, fallback: "using the built-in retry schedule")
            return DefaultRetrySchedule().delay(kind: kind, attempt: attempt, error: error)
        }
    }

    /// What retry.lua answers for `kind` (else its `default`): a delay in
    /// ms, or nil to give up. Throws the `policy` or `limit` error of a
    /// failing function instead of falling back (`keep policy test`).
    public func retryDelay(kind: String, attempt: Int, error: String) throws(KeepError) -> Int64? {
        try withState { loaded throws(KeepError) -> Int64? in
            let lua = loaded.lua
            let stack = lua.stack
            let top = stack.top
            defer { stack.setTop(top) }
            stack.push(reference: loaded.retry)
            if stack.pushField(kind, of: -1) != .function {
                stack.pop()
                stack.pushField("default", of: -1)
            }
            stack.push(Int64(attempt))
            stack.push(error)
            do throws(LuaError) {
                try lua.call(arguments: 2, results: 1, budget: .policy)
            } catch {
                throw Self.failure(error, file: "retry.lua")
            }
            switch stack.value(at: -1) {
            case .nil: return nil
            case .integer(let delay) where delay >= 0: return delay
            case .number(let delay) where delay >= 0 && delay < 9e15: return Int64(delay)
            default: throw KeepError(.policy, "retry.lua must return a delay in ms (≥ 0) or nil")
            }
        }
    }
}

extension PolicySet: VisitPolicy {
    /// visits.lua's `should_count(log, now)` (times in ms since the epoch), or
    /// the built-in 5-minute rule when the set has no visits.lua or it fails
    /// (recorded in `failures`).
    public func shouldCount(_ log: AccessLog, now: Timestamp) -> Bool {
        do {
            if let decided = try countsVisit(log, now: now) { return decided }
        } catch {
            failures.record(hook: "visits.should_count", error, fallback: "using the built-in 5-minute rule")
        }
        return IntervalVisitPolicy().shouldCount(log, now: now)
    }

    /// visits.lua's answer, or nil when the set has no visits.lua. Throws the
    /// `policy` or `limit` error of a failing function instead of falling
    /// back (`keep policy test`).
    public func countsVisit(_ log: AccessLog, now: Timestamp) throws(KeepError) -> Bool? {
        try withState { loaded throws(KeepError) -> Bool? in
            guard let visits = loaded.visits else { return nil }
            let lua = loaded.lua
            let stack = lua.stack
            let top = stack.top
            defer { stack.setTop(top) }
            stack.push(reference: visits)
            stack.pushField("should_count", of: -1)
            stack.newTable(fieldCapacity: 6)
            stack.push(log.visits); stack.setField("visits", of: -2)
            stack.push(log.lastVisitedAt.millisecondsSinceEpoch); stack.setField("last_visited_ms", of: -2)
            stack.push(log.firstVisitedAt.millisecondsSinceEpoch); stack.setField("first_visited_ms", of: -2)
            stack.push(log.visitor); stack.setField("visitor", of: -2)
            stack.push(log.snapshotID.rawValue); stack.setField("snapshot_id", of: -2)
            stack.push(log.snapshotOwner); stack.setField("snapshot_owner", of: -2)
            stack.push(now.millisecondsSinceEpoch)
            do throws(LuaError) {
                try lua.call(arguments: 2, results: 1, budget: .policy)
            } catch {
                throw Self.failure(error, file: "visits.lua")
            }
            return stack.isTruthy(at: -1)
        }
    }
}
