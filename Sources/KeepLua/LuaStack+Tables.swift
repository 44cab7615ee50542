import CLua
import CLuaShim

/// Walking and editing tables without metamethods (Lua 5.4 manual §4.6:
/// `lua_next`, `lua_rawgeti`, `lua_rawset`, `lua_rawlen`), and the metatables
/// host code inspects (the REPL's formatter and completer, policy documents).
extension LuaStack {
    // MARK: Iteration

    /// [-0, +0] Calls `body` for each entry of the table at `table`, with the
    /// key at -2 and the value at -1; `body` must leave the stack as it found
    /// it and returns false to stop the walk early. The walk is protected (see
    /// `keep_next`): a table changed under it ends the walk instead of raising.
    /// A `body` that throws ends the walk with the stack restored.
    public func walkEntries<E: Error>(of table: Int32, _ body: () throws(E) -> Bool) throws(E) {
        let table = absolute(table)
        pushNil()
        while keep_next(L, table) == 1 {
            let keep: Bool
            do {
                keep = try body()
            } catch {
                pop(2)
                throw error
            }
            guard keep else { pop(2); return }
            pop()
        }
    }

    /// [-0, +0] `walkEntries` over every entry (`body` cannot stop the walk).
    public func forEachEntry<E: Error>(of table: Int32, _ body: () throws(E) -> Void) throws(E) {
        try walkEntries(of: table) { () throws(E) -> Bool in
            try body()
            return true
        }
    }

    /// [-0, +0] Whether the table at `table` has no entries (raw: a metatable's
    /// `__index` does not count). False for a value that is not a table.
    public func isEmptyTable(_ table: Int32) -> Bool {
        guard type(at: table) == .table else { return false }
        var empty = true
        walkEntries(of: table) {
            empty = false
            return false
        }
        return empty
    }

    /// [-2, +0] Pops a key (at -2) and a value (at -1) and stores
    /// `table[key] = value` without metamethods. The key must not be nil or NaN.
    public func setRaw(of table: Int32) {
        let table = absolute(table)
        lua_rawset(L, table)
    }

    // MARK: Sequences

    /// [-0, +1] Pushes `table[index]`, without metamethods; returns its type.
    @discardableResult
    public func pushElement(_ index: Int64, of table: Int32) -> LuaType {
        LuaType(rawValue: lua_rawgeti(L, table, index)) ?? .nil
    }

    /// [-0, +0] The raw length (`#` without `__len`) of the string or table at `index`.
    public func rawLength(of index: Int32) -> Int {
        Int(lua_rawlen(L, index))
    }

    // MARK: Metatables

    /// [-0, +(0|1)] Pushes the metatable of the value at `index` (the real one:
    /// `__metatable` does not hide it from the host); false, with nothing
    /// pushed, when it has none.
    public func pushMetatable(of index: Int32) -> Bool {
        lua_getmetatable(L, index) != 0
    }

    /// [-0, +0] Whether the value at `index` has a metatable.
    public func hasMetatable(_ index: Int32) -> Bool {
        guard pushMetatable(of: index) else { return false }
        pop()
        return true
    }

    /// [-0, +0] The raw field `name` of the value's metatable, `.nil` when
    /// it has no metatable or no such field.
    public func metafield(_ name: String, of index: Int32) -> LuaValue {
        guard pushMetatable(of: index) else { return .nil }
        defer { pop() }
        return rawField(name, of: -1)
    }

    /// [-1, +0] Pops a table (or nil) and makes it the metatable of the
    /// value at `index`.
    public func setMetatable(of index: Int32) {
        let index = absolute(index)
        lua_setmetatable(L, index)
    }

    // MARK: Inspection

    /// [-0, +0] An address that identifies the table, function, thread or
    /// userdata at `index` while it lives (cycle marks, ordering of keys that
    /// have no value order); nil for other values.
    public func identity(at index: Int32) -> UnsafeRawPointer? {
        lua_topointer(L, index)
    }

    /// [-0, +1] Pushes `tostring(value at index)` computed in protected mode
    /// (`__tostring` and `__name` included); on failure pushes the error value
    /// instead and returns false.
    public func pushToString(of index: Int32) -> Bool {
        keep_tostring_protected(L, absolute(index)) == LUA_OK
    }

    /// [-0, +0] Whether the value at `index` is neither nil nor false.
    public func isTruthy(at index: Int32) -> Bool {
        lua_toboolean(L, index) != 0
    }
}
