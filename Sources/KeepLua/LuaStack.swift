import CLua
import CLuaShim
import KeepCore

/// Lua's type tags (Lua 5.4 manual §4.4, `lua_type`).
public enum LuaType: Int32, Sendable {
    case none = -1, `nil` = 0, boolean, lightUserdata, number, string, table, function, userdata, thread

    public var name: String {
        switch self {
        case .none: "no value"
        case .nil: "nil"
        case .boolean: "boolean"
        case .lightUserdata, .userdata: "userdata"
        case .number: "number"
        case .string: "string"
        case .table: "table"
        case .function: "function"
        case .thread: "thread"
        }
    }
}

/// A view of a state's stack for host code: pushing and reading values,
/// checking arguments, building tables. Valid only while the state is running
/// the host function that received it (or, from `LuaState.stack`, on the
/// state's own thread).
///
/// Only raw accessors are used (`lua_rawget`, `lua_rawset`, protected `keep_next`, no
/// conversion of numbers in place), so no metamethod ever runs from here.
/// Allocation failures cannot raise inside Swift: see `docs/lua-bridge.md`.
public struct LuaStack {
    /// The raw state: only KeepLua (and the package's benchmarks and tests)
    /// touch the C API.
    package let L: OpaquePointer
    /// The host function being run (unretained: it outlives the call), read
    /// only to name it in argument errors.
    private let host: UnsafeMutableRawPointer?

    package init(_ L: OpaquePointer) {
        self.L = L
        self.host = nil
    }

    init(_ L: OpaquePointer, host: UnsafeMutableRawPointer) {
        self.L = L
        self.host = host
    }

    /// Debug builds: traps when the stack's top is not `expected` where host
    /// code and Lua hand over (a bridge function that leaks or eats a value
    /// corrupts its caller's stack far from the cause). Compiled out of
    /// release builds, so the host-call path costs nothing for it.
    @inline(__always)
    func assertTop(_ expected: Int32, _ boundary: @autoclosure () -> String) {
        #if DEBUG
        let top = lua_gettop(L)
        assert(top == expected, "\(boundary()): the stack's top is \(top), expected \(expected)")
        #endif
    }

    /// The name of the host function being run, or "?".
    var function: String {
        host.map { Unmanaged<HostFunction>.fromOpaque($0).takeUnretainedValue().name } ?? "?"
    }

    // MARK: Top

    public var top: Int32 { lua_gettop(L) }
    public func setTop(_ index: Int32) { lua_settop(L, index) }
    public func pop(_ count: Int32 = 1) { lua_settop(L, -count - 1) }
    public func absolute(_ index: Int32) -> Int32 { lua_absindex(L, index) }
    public func type(at index: Int32) -> LuaType { LuaType(rawValue: lua_type(L, index)) ?? .none }
    public func typeName(at index: Int32) -> String {
        // luaL_typename would not see __name; use it for userdata so host objects name themselves.
        if type(at: index) == .userdata, lua_getmetatable(L, index) != 0 {
            defer { pop() }
            if rawField("__name", of: -1).text.map({ !$0.isEmpty }) == true {
                return rawField("__name", of: -1).text!
            }
        }
        return type(at: index).name
    }

    // MARK: Pushing

    public func pushNil() { lua_pushnil(L) }
    public func push(_ value: Bool) { lua_pushboolean(L, value ? 1 : 0) }
    public func push(_ value: Int64) { lua_pushinteger(L, value) }
    public func push(_ value: Int) { lua_pushinteger(L, lua_Integer(value)) }
    public func push(_ value: Double) { lua_pushnumber(L, value) }
    public func push(_ value: String) {
        var value = value
        value.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }
    public func push<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        let pushed: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            buffer.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
        if pushed == nil { push(bytes: Array(bytes)) }
    }
    public func push(_ value: LuaValue) {
        switch value {
        case .nil, .opaque: pushNil()
        case .boolean(let b): push(b)
        case .integer(let i): push(i)
        case .number(let d): push(d)
        case .string(let s): push(bytes: s)
        }
    }
    /// Pushes a copy of the value at `index`.
    public func pushCopy(of index: Int32) { lua_pushvalue(L, index) }

    // MARK: Reading (never converting in place, never calling metamethods)

    /// The bytes of the string at `index`; nil when it is not a string (numbers are not converted).
    public func string(at index: Int32) -> [UInt8]? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let pointer = lua_tolstring(L, index, &length) else { return nil }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// The string at `index` as text, when it is a string of valid UTF-8.
    public func text(at index: Int32) -> String? {
        string(at: index).flatMap { String(validating: $0, as: UTF8.self) }
    }

    public func isInteger(at index: Int32) -> Bool { lua_isinteger(L, index) != 0 }

    public func value(at index: Int32) -> LuaValue {
        switch type(at: index) {
        case .none, .nil: return .nil
        case .boolean: return .boolean(lua_toboolean(L, index) != 0)
        case .number:
            if lua_isinteger(L, index) != 0 { return .integer(lua_tointegerx(L, index, nil)) }
            return .number(lua_tonumberx(L, index, nil))
        case .string: return .string(string(at: index)!)
        case let other: return .opaque(other.name)
        }
    }

    /// Text for any value, as `tostring` would give it; a failing `__tostring`
    /// is described instead of raised.
    public func describe(at index: Int32) -> String {
        if type(at: index) == .none { return "no value" }
        if let bytes = string(at: index) { return String(decoding: bytes, as: UTF8.self) }
        var length = 0
        let pointer = keep_tostring(L, index, &length)
        defer { pop() }
        guard let pointer else { return "?" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    // MARK: Tables (raw access only)

    /// [-0, +1]
    public func newTable(arrayCapacity: Int32 = 0, fieldCapacity: Int32 = 0) {
        lua_createtable(L, arrayCapacity, fieldCapacity)
    }

    /// [-1, +0] Pops a value and stores it as `table[name]`, without metamethods.
    public func setField(_ name: String, of table: Int32) {
        let table = absolute(table)
        push(name)
        lua_rotate(L, -2, 1)
        lua_rawset(L, table)
    }

    /// [-1, +0] Pops a value and stores it as `table[index]`, without metamethods.
    public func setIndex(_ index: Int64, of table: Int32) {
        lua_rawseti(L, table, index)
    }

    /// [-0, +0] `table[name]` copied out, without metamethods; `.nil` when
    /// the value at `table` is not a table.
    public func rawField(_ name: String, of table: Int32) -> LuaValue {
        guard type(at: table) == .table else { return .nil }
        let table = absolute(table)
        push(name)
        lua_rawget(L, table)
        defer { pop() }
        return value(at: -1)
    }

    /// [-0, +1] Pushes `table[name]`, without metamethods; returns its type.
    @discardableResult
    public func pushField(_ name: String, of table: Int32) -> LuaType {
        let table = absolute(table)
        push(name)
        return LuaType(rawValue: lua_rawget(L, table)) ?? .nil
    }

    /// [-1, +0] Pops a value into the global table (raw).
    public func setGlobal(_ name: String) {
        lua_rawgeti(L, keep_registryindex(), lua_Integer(keep_ridx_globals()))
        lua_rotate(L, -2, 1)
        setField(name, of: -2)
        pop()
    }

    // MARK: Host functions

    /// [-0, +1] Pushes a Lua function implemented by `body`, which receives the
    /// arguments at 1…n, pushes its results and returns their count. Errors it
    /// throws are raised in Lua after `body` has returned (a `KeepError` becomes
    /// an error table; see `pushError`).
    public func pushFunction(named name: String, _ body: @escaping (LuaStack) throws -> Int32) {
        let function = HostFunction(name: name, body: body)
        keep_push_host_function(L, Unmanaged.passRetained(function).toOpaque())
    }

    /// [-0, +0] Sets `table[name]` to a host function.
    public func setFunction(_ name: String, of table: Int32, _ body: @escaping (LuaStack) throws -> Int32) {
        let table = absolute(table)
        pushFunction(named: name, body)
        setField(name, of: table)
    }

    // MARK: Calls

    /// [-(arguments+1), +results] Calls the function below the arguments in
    /// protected mode, with a traceback recorded on error. From a host function
    /// this is the way back into Lua; it runs under the budget of the call in
    /// progress (start budgeted calls with `LuaState.call`).
    public func call(arguments: Int32, results: Int32) throws(LuaError) {
        let base = top - arguments - 1
        let status = keep_pcall(L, arguments, results)
        guard status == LUA_OK else { throw popError(status: status) }
        if results != LUA_MULTRET { assertTop(base + results, "a call from Swift returning \(results) results") }
        // A spent budget ends the call with the budget error even when the
        // script caught it (a memory error under pcall, a trip inside a
        // coroutine) and returned normally.
        if keep_budget(L)!.pointee.tripped != Int32(KEEP_TRIP_NONE.rawValue) {
            setTop(base + 1)
            throw popError(status: LUA_ERRRUN)
        }
    }

    /// [-1, +0] Turns the error value on top of the stack into a `LuaError`.
    private func popError(status: Int32) -> LuaError {
        let budget = keep_budget(L)!
        keep_push_traceback(L)
        let traceback = text(at: -1)
        pop()
        defer { pop() }
        // Describing the value may run its __tostring (under the budget), so
        // read it before asking whether the budget was spent.
        let raised = keepError(at: -1)
        let message = raised?.description
            ?? (status == LUA_ERRMEM ? "not enough memory" : describe(at: -1))
        if budget.pointee.tripped != Int32(KEEP_TRIP_NONE.rawValue) {
            // The budget decides, whatever value the script let escape.
            keep_push_trip_error(L, budget)
            let error = keepError(at: -1)!
            pop()
            return LuaError(kind: .runtime, message: error.description, keepError: error, traceback: traceback)
        }
        guard let raised else { return LuaError(kind: .runtime, message: message, traceback: traceback) }
        // luaL_where gives "chunk:line: "; keep "chunk:line:".
        let location = rawField("where", of: -1).text.map { $0.hasSuffix(" ") ? String($0.dropLast()) : $0 }
        return LuaError(kind: .runtime, message: message, keepError: raised, location: location, traceback: traceback)
    }

    // MARK: Errors

    /// [-0, +1] Pushes `error` as a Lua error value: a table `{code, message,
    /// details, where}` whose `__tostring` gives `code: message`.
    public func pushError(_ error: KeepError) {
        newTable(fieldCapacity: 4)
        push(error.code.rawValue)
        setField("code", of: -2)
        push(error.message)
        setField("message", of: -2)
        if !error.details.isEmpty {
            newTable(fieldCapacity: Int32(error.details.count))
            for (key, value) in error.details {
                switch value {
                case .text(let text): push(text)
                case .integer(let number): push(number)
                case .number(let number): push(number)
                case .flag(let flag): push(flag)
                }
                setField(key, of: -2)
            }
            setField("details", of: -2)
        }
        keep_where(L, 1)
        setField("where", of: -2)
        luaL_setmetatable(L, LuaStack.errorMetatable)
    }

    /// The Keep error in the value at `index`: a table with string `code` and
    /// `message` fields (raised by host functions or built by scripts).
    public func keepError(at index: Int32) -> KeepError? {
        guard type(at: index) == .table,
              let code = rawField("code", of: index).text,
              let message = rawField("message", of: index).text
        else { return nil }
        // Copy the details out without running any Lua code (no __tostring,
        // no changes to the table while lua_next walks it).
        var details: [String: KeepError.Detail] = [:]
        if pushField("details", of: index) == .table {
            lua_pushnil(L)
            while keep_next(L, -2) == 1 {
                if let key = text(at: -2) {
                    switch value(at: -1) {
                    case .string(let bytes): details[key] = .text(String(decoding: bytes, as: UTF8.self))
                    case .integer(let number): details[key] = .integer(number)
                    case .number(let number): details[key] = .number(number)
                    case .boolean(let flag): details[key] = .flag(flag)
                    case .nil: break
                    case .opaque(let typeName): details[key] = .text("(\(typeName))")
                    }
                }
                pop()
            }
        }
        pop()
        return KeepError(KeepError.Code(rawValue: code), message, details: details)
    }

    static let errorMetatable = "keep.error"

    /// Creates the metatable of error values (once per state).
    func installErrorMetatable() {
        luaL_newmetatable(L, LuaStack.errorMetatable)
        // Hidden from scripts: a script must not change how every error prints,
        // nor give the shared metatable a __gc (finalizers run without hooks).
        push(false)
        setField("__metatable", of: -2)
        let tostring = """
            local rawget, tostring = rawget, tostring
            return function(e) return tostring(rawget(e, "code")) .. ": " .. tostring(rawget(e, "message")) end
            """
        let status = luaL_loadstring(L, tostring)
        precondition(status == LUA_OK, "error metatable chunk must compile")
        let called = keep_pcall(L, 0, 1)
        precondition(called == LUA_OK, "error metatable chunk must run")
        setField("__tostring", of: -2)
        pop()
    }

    // MARK: Arguments

    /// An `invalid` error naming the argument, as Lua's own messages do.
    public func argumentError(_ index: Int32, _ problem: String) -> KeepError {
        KeepError(.invalid, "bad argument #\(index) to '\(function)' (\(problem))")
    }

    private func expected(_ index: Int32, _ what: String) -> KeepError {
        argumentError(index, "\(what) expected, got \(type(at: index) == .none ? "no value" : typeName(at: index))")
    }

    public func checkBytes(_ index: Int32) throws(KeepError) -> [UInt8] {
        guard let bytes = string(at: index) else { throw expected(index, "string") }
        return bytes
    }

    public func checkText(_ index: Int32) throws(KeepError) -> String {
        let bytes = try checkBytes(index)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw argumentError(index, "string is not valid UTF-8")
        }
        return text
    }

    public func optionalText(_ index: Int32) throws(KeepError) -> String? {
        type(at: index) == .nil || type(at: index) == .none ? nil : try checkText(index)
    }

    public func checkInteger(_ index: Int32) throws(KeepError) -> Int64 {
        var isNumber: Int32 = 0
        let value = lua_tointegerx(L, index, &isNumber)
        guard type(at: index) == .number, isNumber != 0 else {
            throw expected(index, type(at: index) == .number ? "integer" : "number")
        }
        return value
    }

    public func checkNumber(_ index: Int32) throws(KeepError) -> Double {
        guard type(at: index) == .number else { throw expected(index, "number") }
        return lua_tonumberx(L, index, nil)
    }

    public func checkTable(_ index: Int32) throws(KeepError) {
        guard type(at: index) == .table else { throw expected(index, "table") }
    }

    /// Checks that the stack can take `count` more values (never raises).
    public func reserve(_ count: Int32) throws(KeepError) {
        guard lua_checkstack(L, count) != 0 else {
            throw KeepError(.limit, "Lua stack overflow (nesting too deep)")
        }
    }
}

/// A Swift closure callable from Lua; one retain is owned by its Lua closure.
final class HostFunction {
    let name: String
    let body: (LuaStack) throws -> Int32
    init(name: String, body: @escaping (LuaStack) throws -> Int32) {
        self.name = name
        self.body = body
    }
}
