import CLua
import CLuaShim
import KeepCore

/// The `json` table: `encode`, `decode`, `null`, and the `array`/`object`
/// markers (SPEC §2 "JSON bridge").
enum JSONLibrary {
    static let nullKey = "keep.json.null"
    static let arrayKey = "keep.json.array"
    static let objectKey = "keep.json.object"

    /// [-0, +1] Pushes a new `json` table for the state (creating the shared
    /// sentinel and marker metatables on first use).
    static func open(in stack: LuaStack) {
        let L = stack.L
        if lua_getfield(L, keep_registryindex(), nullKey) == LUA_TNIL {
            stack.pop()
            createSentinels(stack)
        } else {
            stack.pop()
        }
        stack.newTable(fieldCapacity: 6)
        lua_getfield(L, keep_registryindex(), nullKey)
        stack.setField("null", of: -2)
        stack.setFunction("decode", of: -1, decode)
        stack.setFunction("encode", of: -1, encode)
        stack.setFunction("array", of: -1) { stack in try mark(stack, key: arrayKey) }
        stack.setFunction("object", of: -1) { stack in try mark(stack, key: objectKey) }
    }

    private static func createSentinels(_ stack: LuaStack) {
        let L = stack.L
        // json.null: a unique full userdata that prints as "null".
        _ = lua_newuserdatauv(L, 0, 0)
        stack.newTable(fieldCapacity: 3)
        stack.push("json.null")
        stack.setField("__name", of: -2)
        stack.setFunction("__tostring", of: -1) { stack in stack.push("null"); return 1 }
        stack.push(false)
        stack.setField("__metatable", of: -2)
        lua_setmetatable(L, -2)
        lua_setfield(L, keep_registryindex(), nullKey)
        for (key, name) in [(arrayKey, "json.array"), (objectKey, "json.object")] {
            stack.newTable(fieldCapacity: 2)
            stack.push(name)
            stack.setField("__name", of: -2)
            // Shared by every decoded table: hidden, so no script can alter it
            // for others or give it a __gc (finalizers run without hooks).
            stack.push(false)
            stack.setField("__metatable", of: -2)
            lua_setfield(L, keep_registryindex(), key)
        }
    }

    /// [-0, +3] Pushes json.null and the array and object metatables; returns their slots.
    static func pushSlots(_ L: OpaquePointer) -> (null: Int32, array: Int32, object: Int32) {
        lua_getfield(L, keep_registryindex(), nullKey)
        lua_getfield(L, keep_registryindex(), arrayKey)
        lua_getfield(L, keep_registryindex(), objectKey)
        let top = lua_gettop(L)
        return (top - 2, top - 1, top)
    }

    /// json.decode(text) → value
    static func decode(_ stack: LuaStack) throws -> Int32 {
        let L = stack.L
        guard stack.type(at: 1) == .string else {
            throw stack.argumentError(1, "string expected, got \(stack.typeName(at: 1))")
        }
        var length = 0
        let text = lua_tolstring(L, 1, &length)!
        let slots = pushSlots(L)
        try UnsafeRawPointer(text).withMemoryRebound(to: UInt8.self, capacity: length) { bytes throws(KeepError) in
            try JSONDecoder.decode(L, bytes, length, nullSlot: slots.null, arraySlot: slots.array,
                                   objectSlot: slots.object)
        }
        return 1
    }

    /// json.encode(value [, {canonical = true}]) → text
    static func encode(_ stack: LuaStack) throws -> Int32 {
        let L = stack.L
        var canonical = false
        switch stack.type(at: 2) {
        case .none, .nil: break
        case .table:
            lua_pushnil(L)
            while keep_next(L, 2) == 1 {
                guard stack.text(at: -2) == "canonical" else {
                    let key = stack.type(at: -2) == .string ? "'\(stack.describe(at: -2))'" : "of type \(stack.typeName(at: -2))"
                    throw KeepError(.invalid, "json.encode: unknown option \(key); allowed: canonical")
                }
                canonical = lua_toboolean(L, -1) != 0
                stack.pop()
            }
        default:
            throw stack.argumentError(2, "options table expected, got \(stack.typeName(at: 2))")
        }
        if stack.type(at: 1) == .none { throw stack.argumentError(1, "value expected") }
        let slots = pushSlots(L)
        try JSONEncoder.encode(L, at: 1, canonical: canonical, nullSlot: slots.null, arraySlot: slots.array,
                               objectSlot: slots.object)
        return 1
    }

    /// json.array(t) / json.object(t): marks `t` (or a new table) and returns it.
    private static func mark(_ stack: LuaStack, key: String) throws -> Int32 {
        let L = stack.L
        switch stack.type(at: 1) {
        case .none, .nil:
            stack.newTable()
        case .table:
            if lua_getmetatable(L, 1) != 0 {
                stack.pop()
                lua_getfield(L, keep_registryindex(), arrayKey)
                lua_getfield(L, keep_registryindex(), objectKey)
                let marked = lua_getmetatable(L, 1) != 0
                    && (lua_rawequal(L, -1, -3) != 0 || lua_rawequal(L, -1, -2) != 0)
                guard marked else {
                    throw stack.argumentError(1, "table already has a metatable")
                }
                stack.setTop(1)
            }
            stack.pushCopy(of: 1)
        default:
            throw stack.argumentError(1, "table expected, got \(stack.typeName(at: 1))")
        }
        lua_getfield(L, keep_registryindex(), key)
        lua_setmetatable(L, -2)
        return 1
    }
}

extension LuaStack {
    /// [-0, +1] Decodes JSON text and pushes the value, as `json.decode` does.
    public func pushDecodedJSON(_ text: String) throws(KeepError) {
        var text = text
        let slots = JSONLibrary.pushSlots(L)
        let result: Result<Void, KeepError> = text.withUTF8 { bytes in
            Result { () throws(KeepError) in
                try JSONDecoder.decode(L, bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!, bytes.count,
                                       nullSlot: slots.null, arraySlot: slots.array, objectSlot: slots.object)
            }
        }
        guard case .failure(let error) = result else {
            // Drop the three slots below the value.
            lua_rotate(L, -4, 1)
            pop(3)
            return
        }
        pop(3)
        throw error
    }

    /// The canonical JSON text of the value at `index` (`json.encode(v, {canonical = true})`).
    public func canonicalJSON(at index: Int32) throws(KeepError) -> String {
        let index = absolute(index)
        let slots = JSONLibrary.pushSlots(L)
        defer { pop(3) }
        try JSONEncoder.encode(L, at: index, canonical: true, nullSlot: slots.null, arraySlot: slots.array,
                               objectSlot: slots.object)
        defer { pop() }
        return text(at: -1) ?? ""
    }
}
