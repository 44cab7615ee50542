import KeepCore
import KeepLua

extension PolicySet: SavePolicy {
    public var saveSettings: SaveSettings { save }

    /// save.lua's `poll_when(activity)`; without it, or when it fails, polling
    /// runs unless hidden (a broken policy must not stop out-of-sync detection;
    /// the failure is recorded in `failures`).
    public func shouldPoll(_ activity: ActivityState) -> Bool {
        do {
            let decided = try withState { loaded throws(KeepError) -> Bool? in
                try Self.callSaveHook("poll_when", loaded) { stack in
                    stack.push(activity.rawValue)
                    return 1
                } result: { stack in
                    stack.isTruthy(at: -1)
                }
            }
            if let decided { return decided }
        } catch {
            failures.record(hook: "save.poll_when", error, fallback: "polling unless hidden")
        }
        return DefaultSavePolicy().shouldPoll(activity)
    }

    /// save.lua's `on_activity(state, info)`: nothing, an action name or a
    /// list of them. A failure is recorded in `failures` and thrown: the
    /// workbench then does nothing for this change.
    public func activityChanged(to state: ActivityState, info: ActivityInfo) throws(KeepError) -> [ActivityAction] {
        do {
            return try onActivity(state, info: info)
        } catch {
            failures.record(hook: "save.on_activity", error, fallback: "no action taken")
            throw error
        }
    }

    private func onActivity(_ state: ActivityState, info: ActivityInfo) throws(KeepError) -> [ActivityAction] {
        try withState { loaded throws(KeepError) -> [ActivityAction] in
            try Self.callSaveHook("on_activity", loaded) { stack in
                stack.push(state.rawValue)
                stack.newTable(fieldCapacity: 3)
                stack.push(info.previous.rawValue); stack.setField("previous", of: -2)
                stack.push(Int64(info.openCopies)); stack.setField("open_copies", of: -2)
                stack.push(Int64(info.unsavedCopies)); stack.setField("unsaved_copies", of: -2)
                return 2
            } result: { stack throws(KeepError) -> [ActivityAction] in
                try Self.actions(stack)
            } ?? []
        }
    }

    /// save.lua's `on_conflict(info)`: a choice and, for "merge", an optional fallback as a second result.
    public func resolveConflict(_ info: ConflictInfo) throws(KeepError) -> ConflictDecision {
        try withState { loaded throws(KeepError) -> ConflictDecision in
            try Self.callSaveHook("on_conflict", loaded, results: 2) { stack in
                stack.newTable(fieldCapacity: 8)
                stack.push(info.sessionID.rawValue); stack.setField("session_id", of: -2)
                stack.push(info.owner); stack.setField("owner", of: -2)
                stack.push(info.title); stack.setField("title", of: -2)
                stack.push(info.baseVersion); stack.setField("base_version", of: -2)
                stack.push(info.storedVersion); stack.setField("stored_version", of: -2)
                stack.push(info.localHash.hex); stack.setField("local_hash", of: -2)
                stack.push(info.storedHash.hex); stack.setField("stored_hash", of: -2)
                stack.push(info.storedUpdatedAt.iso8601); stack.setField("stored_updated_at", of: -2)
                return 1
            } result: { stack throws(KeepError) -> ConflictDecision in
                let choice = try Self.choice(stack, at: -2, what: "on_conflict's result")
                guard let choice else {
                    throw KeepError(.policy, "save.lua: on_conflict must return \(Self.choices), got nil")
                }
                let fallback = try Self.choice(stack, at: -1, what: "on_conflict's second result (the fallback of merge)")
                if fallback == .merge {
                    throw KeepError(.policy, "save.lua: on_conflict's fallback must be reject, overwrite or fork, got merge")
                }
                return ConflictDecision(choice, fallback: fallback ?? .reject)
            } ?? ConflictDecision(.reject)
        }
    }

    static let choices = ConflictChoice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")

    /// Calls `save[name]` if save.lua has it (nil otherwise): `arguments`
    /// pushes the arguments, `result` reads the results.
    private static func callSaveHook<T>(_ name: String, _ loaded: LoadedState, results: Int32 = 1,
                                        arguments: (LuaStack) -> Int32,
                                        result: (LuaStack) throws(KeepError) -> T) throws(KeepError) -> T? {
        let lua = loaded.lua
        let stack = lua.stack
        let top = stack.top
        defer { stack.setTop(top) }
        stack.push(reference: loaded.save)
        guard stack.pushField(name, of: -1) == .function else { return nil }
        let count = arguments(stack)
        do throws(LuaError) {
            try lua.call(arguments: count, results: results, budget: .policy)
        } catch {
            throw failure(error, file: "save.lua")
        }
        return try result(stack)
    }

    private static func choice(_ stack: LuaStack, at index: Int32, what: String) throws(KeepError) -> ConflictChoice? {
        if stack.type(at: index) == .nil { return nil }
        guard let text = stack.text(at: index), let choice = ConflictChoice(rawValue: text) else {
            throw KeepError(.policy, "save.lua: \(what) must be one of \(choices), got \(stack.describe(at: index))")
        }
        return choice
    }

    private static func actions(_ stack: LuaStack) throws(KeepError) -> [ActivityAction] {
        let allowed = ActivityAction.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        func action(at index: Int32) throws(KeepError) -> ActivityAction {
            guard let text = stack.text(at: index), let action = ActivityAction(rawValue: text) else {
                throw KeepError(.policy, "save.lua: on_activity may return nothing, or one or a list of \(allowed); got \(stack.describe(at: index))")
            }
            return action
        }
        switch stack.type(at: -1) {
        case .nil: return []
        case .table:
            var actions: [ActivityAction] = []
            var index: Int64 = 1
            while stack.pushElement(index, of: -1) != .nil {
                defer { stack.pop() }
                actions.append(try action(at: -1))
                index += 1
            }
            stack.pop()
            return actions
        default: return [try action(at: -1)]
        }
    }
}

extension PolicyRegistry: SavePolicy {
    public var saveSettings: SaveSettings { current.save }
    public func shouldPoll(_ activity: ActivityState) -> Bool { current.shouldPoll(activity) }
    public func activityChanged(to state: ActivityState, info: ActivityInfo) throws(KeepError) -> [ActivityAction] {
        try current.activityChanged(to: state, info: info)
    }
    public func resolveConflict(_ info: ConflictInfo) throws(KeepError) -> ConflictDecision {
        try current.resolveConflict(info)
    }
}
