import CLua
import CLuaShim

/// Keeping Lua values alive from Swift: registry references (Lua 5.4 manual
/// §4.3 and `luaL_ref`) and the stack moves that go with them.
extension LuaStack {
    /// A reference that refers to no value (`LUA_NOREF`); `releaseReference`
    /// ignores it.
    public static let noReference: Int32 = LUA_NOREF

    /// The `results` of a call that keeps every result on the stack (`LUA_MULTRET`).
    public static let allResults: Int32 = LUA_MULTRET

    /// [-1, +0] Pops the value on top into the registry and returns the
    /// reference that pushes it again (`luaL_ref`). The value stays alive until
    /// `releaseReference`; nil gets `LUA_REFNIL` and pushes nil.
    public func popReference() -> Int32 {
        luaL_ref(L, keep_registryindex())
    }

    /// [-0, +1] Pushes the value stored under `reference` (nil for `noReference`).
    @discardableResult
    public func push(reference: Int32) -> LuaType {
        LuaType(rawValue: lua_rawgeti(L, keep_registryindex(), lua_Integer(reference))) ?? .nil
    }

    /// [-0, +0] Frees `reference` so its value can be collected (`luaL_unref`);
    /// `noReference` is ignored.
    public func releaseReference(_ reference: Int32) {
        luaL_unref(L, keep_registryindex(), reference)
    }

    /// [-0, +1] Pushes the state's global table (`_G` as the host sees it,
    /// whatever a script assigned to the `_G` variable).
    public func pushGlobals() {
        lua_rawgeti(L, keep_registryindex(), lua_Integer(keep_ridx_globals()))
    }

    /// [-1, +0] Pops the value on top into the registry under `name`: host
    /// data of this state that scripts cannot reach (`lua_setfield` on the
    /// registry, manual §4.3; name it "keep.…" as `luaL_newmetatable` names are).
    public func setRegistryField(_ name: String) {
        setField(name, of: keep_registryindex())
    }

    /// [-0, +1] Pushes the registry's value under `name` and returns its type.
    @discardableResult
    public func pushRegistryField(_ name: String) -> LuaType {
        pushField(name, of: keep_registryindex())
    }

    // MARK: Moving values

    /// [-1, +1] Moves the value on top to `index`, shifting the values above
    /// `index` up (`lua_insert`).
    public func insert(at index: Int32) {
        lua_rotate(L, index, 1)
    }

    /// [-1, +0] Removes the value at `index`, shifting the values above it
    /// down (`lua_remove`).
    public func remove(at index: Int32) {
        lua_rotate(L, index, -1)
        pop()
    }
}
