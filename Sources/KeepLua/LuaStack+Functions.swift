import CLua
import CLuaShim

/// Upvalues of Lua functions (Lua 5.4 manual §4.7, `lua_getupvalue`,
/// `lua_setupvalue`, `lua_upvaluejoin`): a chunk's environment is its first
/// upvalue, and the REPL's persistent locals are upvalue cells shared by chunks.
extension LuaStack {
    /// [-0, +0] The name of upvalue `upvalue` (1-based) of the function at
    /// `function`, or nil when it has no such upvalue. C functions' upvalues
    /// are named "".
    public func upvalueName(_ upvalue: Int32, ofFunctionAt function: Int32) -> String? {
        guard let name = lua_getupvalue(L, function, upvalue) else { return nil }
        pop()
        return String(cString: name)
    }

    /// [-0, +(0|1)] Pushes the value of upvalue `upvalue` of the function at
    /// `function`; false, with nothing pushed, when there is no such upvalue.
    @discardableResult
    public func pushUpvalue(_ upvalue: Int32, ofFunctionAt function: Int32) -> Bool {
        lua_getupvalue(L, function, upvalue) != nil
    }

    /// [-(1|0), +0] Pops a value into upvalue `upvalue` of the function at
    /// `function`; when there is no such upvalue the value stays on the stack
    /// and false is returned.
    @discardableResult
    public func setUpvalue(_ upvalue: Int32, ofFunctionAt function: Int32) -> Bool {
        let function = absolute(function)
        return lua_setupvalue(L, function, upvalue) != nil
    }

    /// [-0, +0] Makes upvalue `upvalue` of the Lua function at `function`
    /// share the cell of upvalue `otherUpvalue` of the Lua function at `other`,
    /// so both functions see one variable. Both upvalues must exist.
    public func joinUpvalue(_ upvalue: Int32, ofFunctionAt function: Int32,
                            to otherUpvalue: Int32, ofFunctionAt other: Int32) {
        lua_upvaluejoin(L, absolute(function), upvalue, absolute(other), otherUpvalue)
    }

    /// [-1, +0] Pops a table and makes it the environment (`_ENV`, the first
    /// upvalue) of the main chunk at `function`. A function without upvalues
    /// (a chunk that never reads a global) needs none: the table is dropped.
    public func setEnvironment(ofFunctionAt function: Int32) {
        if !setUpvalue(1, ofFunctionAt: function) { pop() }
    }
}
