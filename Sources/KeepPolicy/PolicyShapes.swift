import CLua
import CLuaShim
import KeepCore
import KeepLua

/// Checks that each policy file returned what its contract says (SPEC §4):
/// known keys only, of the right types. Errors name the file and the key.
struct PolicyShapes {
    let stack: LuaStack
    let folder: String

    /// [-0, +0] The table behind `reference`, walked key by key.
    private func entries(_ reference: Int32, _ body: (String?, LuaType) throws(KeepError) -> Void) throws(KeepError) {
        lua_rawgeti(stack.L, keep_registryindex(), lua_Integer(reference))
        defer { stack.pop() }
        lua_pushnil(stack.L)
        while keep_next(stack.L, -2) == 1 {
            let key = stack.text(at: -2)
            let type = stack.type(at: -1)
            stack.pop()
            do {
                try body(key, type)
            } catch {
                stack.pop()  // the key
                throw error
            }
        }
    }

    private func failure(_ file: String, _ problem: String) -> KeepError {
        KeepError(.policy, "\(folder)/\(file): \(problem)", details: ["file": "\(folder)/\(file)"])
    }

    /// validation.lua: `{ rules = { name = function(doc, ctx) … end, … } }`. Returns the rules by name.
    func validation(_ reference: Int32) throws(KeepError) -> [(name: String, reference: Int32)] {
        var sawRules = false
        try entries(reference) { key, type throws(KeepError) in
            guard key == "rules" else { throw failure("validation.lua", "unknown key '\(key ?? "?")'; allowed: rules") }
            guard type == .table else { throw failure("validation.lua", "rules must be a table of functions, got \(type.name)") }
            sawRules = true
        }
        guard sawRules else { throw failure("validation.lua", "must return { rules = { name = function(doc, ctx) … end } }") }
        var rules: [(name: String, reference: Int32)] = []
        lua_rawgeti(stack.L, keep_registryindex(), lua_Integer(reference))
        stack.pushField("rules", of: -1)
        defer { stack.pop(2) }
        lua_pushnil(stack.L)
        while keep_next(stack.L, -2) == 1 {
            guard let name = stack.text(at: -2) else {
                stack.pop(2)
                throw failure("validation.lua", "rules must be named (string keys)")
            }
            guard stack.type(at: -1) == .function else {
                let got = stack.typeName(at: -1)
                stack.pop(2)
                throw failure("validation.lua", "rules.\(name) must be a function, got \(got)")
            }
            rules.append((name, luaL_ref(stack.L, keep_registryindex())))
        }
        return rules.sorted { $0.name < $1.name }
    }

    /// retry.lua: `{ [job_kind] = function(attempt, err) … end, default = … }`.
    func retry(_ reference: Int32) throws(KeepError) {
        var sawDefault = false
        try entries(reference) { key, type throws(KeepError) in
            guard let key else { throw failure("retry.lua", "keys must be job kinds (strings)") }
            guard type == .function else {
                throw failure("retry.lua", "\(key) must be a function(attempt, err) returning a delay in ms or nil, got \(type.name)")
            }
            if key == "default" { sawDefault = true }
        }
        guard sawDefault else { throw failure("retry.lua", "default is missing: the schedule for job kinds not listed") }
    }

    /// visits.lua: `{ should_count = function(log, now) … end }`.
    func visits(_ reference: Int32) throws(KeepError) {
        var sawShouldCount = false
        try entries(reference) { key, type throws(KeepError) in
            guard key == "should_count" else { throw failure("visits.lua", "unknown key '\(key ?? "?")'; allowed: should_count") }
            guard type == .function else { throw failure("visits.lua", "should_count must be a function, got \(type.name)") }
            sawShouldCount = true
        }
        guard sawShouldCount else { throw failure("visits.lua", "should_count is missing") }
    }

    /// save.lua: settings and hooks for working copies.
    func save(_ reference: Int32) throws(KeepError) -> SaveSettings {
        var settings = SaveSettings()
        let functions = ["poll_when", "on_activity", "on_conflict"]
        let numbers = ["autosave_debounce_ms", "poll_interval_ms"]
        lua_rawgeti(stack.L, keep_registryindex(), lua_Integer(reference))
        defer { stack.pop() }
        lua_pushnil(stack.L)
        while keep_next(stack.L, -2) == 1 {
            defer { stack.pop() }
            guard let key = stack.text(at: -2), functions.contains(key) || numbers.contains(key) else {
                let key = stack.text(at: -2) ?? "?"
                stack.pop()
                throw failure("save.lua", "unknown key '\(key)'; allowed: " + (numbers + functions).joined(separator: ", "))
            }
            if functions.contains(key) {
                guard stack.type(at: -1) == .function else {
                    let got = stack.typeName(at: -1)
                    stack.pop()
                    throw failure("save.lua", "\(key) must be a function, got \(got)")
                }
                continue
            }
            guard case .integer(let value) = stack.value(at: -1), value >= 0, value <= 86_400_000 else {
                let got = stack.describe(at: -1)
                stack.pop()
                throw failure("save.lua", "\(key) must be a whole number of milliseconds from 0 to 86400000, got \(got)")
            }
            if key == "autosave_debounce_ms" { settings.autosaveDebounceMilliseconds = value }
            else { settings.pollIntervalMilliseconds = value }
        }
        return settings
    }
}
