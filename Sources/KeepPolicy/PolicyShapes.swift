import KeepCore
import KeepLua

/// Checks that each policy file returned what its contract says (SPEC §4):
/// known keys only, of the right types. Errors name the file and the key.
struct PolicyShapes {
    let stack: LuaStack
    let folder: String

    /// [-0, +0] The table behind `reference`, walked key by key.
    private func entries(_ reference: Int32, _ body: (String?, LuaType) throws(KeepError) -> Void) throws(KeepError) {
        stack.push(reference: reference)
        defer { stack.pop() }
        try stack.forEachEntry(of: -1) { () throws(KeepError) in
            try body(stack.text(at: -2), stack.type(at: -1))
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
        stack.push(reference: reference)
        stack.pushField("rules", of: -1)
        defer { stack.pop(2) }
        try stack.forEachEntry(of: -1) { () throws(KeepError) in
            guard let name = stack.text(at: -2) else {
                throw failure("validation.lua", "rules must be named (string keys)")
            }
            guard stack.type(at: -1) == .function else {
                throw failure("validation.lua", "rules.\(name) must be a function, got \(stack.typeName(at: -1))")
            }
            stack.pushCopy(of: -1)
            rules.append((name, stack.popReference()))
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
        let flags = ["require_if_match"]
        stack.push(reference: reference)
        defer { stack.pop() }
        try stack.forEachEntry(of: -1) { () throws(KeepError) in
            guard let key = stack.text(at: -2), functions.contains(key) || numbers.contains(key) || flags.contains(key) else {
                let key = stack.text(at: -2) ?? "?"
                throw failure("save.lua", "unknown key '\(key)'; allowed: " + (numbers + flags + functions).joined(separator: ", "))
            }
            if flags.contains(key) {
                guard stack.type(at: -1) == .boolean else {
                    throw failure("save.lua", "\(key) must be true or false, got \(stack.describe(at: -1))")
                }
                settings.requireIfMatch = stack.isTruthy(at: -1)
                return
            }
            if functions.contains(key) {
                guard stack.type(at: -1) == .function else {
                    throw failure("save.lua", "\(key) must be a function, got \(stack.typeName(at: -1))")
                }
                return
            }
            guard case .integer(let value) = stack.value(at: -1), value >= 0, value <= 86_400_000 else {
                let got = stack.describe(at: -1)
                throw failure("save.lua", "\(key) must be a whole number of milliseconds from 0 to 86400000, got \(got)")
            }
            if key == "autosave_debounce_ms" { settings.autosaveDebounceMilliseconds = value }
            else { settings.pollIntervalMilliseconds = value }
        }
        return settings
    }
}
