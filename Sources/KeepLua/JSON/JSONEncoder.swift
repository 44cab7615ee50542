#if canImport(Glibc)
import Glibc
#endif
import CLua
import CLuaShim
import KeepCore
import KeepJSON

/// Encodes Lua values as JSON text.
///
/// Two layouts: compact (`json.encode(v)`) and canonical
/// (`json.encode(v, {canonical = true})`), which is byte for byte what the
/// reference front end hashes: `JSON.stringify(sortKeysDeep(v), null, 2)`.
/// Both order object keys the way that JavaScript expression does: keys that
/// are array indices ("0", "1", … below 2³²−1) first in numeric order, then the
/// rest in UTF-16 code-unit order.
///
/// Tables: one marked by `json.array` is an array; one marked by `json.object`
/// is an object; otherwise a non-empty table whose keys are exactly 1…n is an
/// array and anything else an object (integer keys written as strings); an
/// unmarked empty table is `{}`. Floats: canonical output follows JavaScript
/// (`1.0` → `1`); compact output keeps them floats (`1.0`). NaN and infinities
/// are refused (JSON has no such numbers).
struct JSONEncoder {
    private static let maximumDepth = JSONLimits.maximumDepth

    private let L: OpaquePointer
    private let canonical: Bool
    private let nullSlot: Int32
    private let arraySlot: Int32
    private let objectSlot: Int32
    private var out: ByteBuffer
    private var depth = 0
    /// Keys of the objects being written, nested objects stacked after their parents'.
    private var entries: [ObjectEntry] = []

    private var valuesSinceCharge = 0
    private var checkedOutput = 0

    private struct ObjectEntry {
        var key: UnsafePointer<UInt8>
        var length: Int
        /// Where the key's text is: a stack slot, or (when -1) the anchor table at `anchorIndex`.
        var keySlot: Int32
        var anchorIndex: Int64
        /// The original key when it was an integer (its text is in `key`).
        var integerKey: Int64?
        /// The key as an array index (JavaScript orders those first), or -1.
        var index: Int64
    }

    /// [-0, +1] Encodes the value at `index` and pushes the text.
    static func encode(_ L: OpaquePointer, at index: Int32, canonical: Bool,
                       nullSlot: Int32, arraySlot: Int32, objectSlot: Int32) throws(KeepError) {
        var out = ByteBuffer(capacity: 1 << 16)
        let budget = keep_budget(L)!.pointee
        if budget.active != 0 && budget.memory_limit > 0 {
            // The output lives outside the Lua heap but counts against the memory budget.
            out.limit = max(1 << 16, Int(budget.memory_limit) - Int(min(budget.memory_used, budget.memory_limit)))
        }
        var encoder = JSONEncoder(L: L, canonical: canonical, nullSlot: nullSlot, arraySlot: arraySlot,
                                  objectSlot: objectSlot, out: out)
        defer { encoder.out.deallocate() }
        // No finalizer may run (and change a table being walked) until the walk is over.
        let paused = keep_gc_pause(L)
        defer { keep_gc_resume(L, paused) }
        let top = lua_gettop(L)
        do throws(JSONError) {
            try encoder.value(at: lua_absindex(L, index))
        } catch {
            lua_settop(L, top)
            // The output did not fit in what the memory budget leaves: that
            // spends the budget, as a refused allocation of Lua's would.
            if error.code == .limit { keep_budget_trip_memory(L) }
            throw KeepError(json: error, in: "json.encode")
        }
        encoder.out.base.withMemoryRebound(to: CChar.self, capacity: encoder.out.count) {
            _ = lua_pushlstring(L, $0, encoder.out.count)
        }
    }

    // MARK: Values

    private mutating func value(at slot: Int32) throws(JSONError) {
        switch lua_type(L, slot) {
        case LUA_TNIL:
            try out.append("null")
        case LUA_TBOOLEAN:
            try out.append(lua_toboolean(L, slot) != 0 ? "true" : "false")
        case LUA_TNUMBER:
            if lua_isinteger(L, slot) != 0 {
                try JSNumberFormat.append(integer: lua_tointegerx(L, slot, nil), to: &out, canonical: canonical)
            } else {
                try JSNumberFormat.appendFinite(lua_tonumberx(L, slot, nil), to: &out, keepFloat: !canonical)
            }
        case LUA_TSTRING:
            var length = 0
            let pointer = lua_tolstring(L, slot, &length)!
            try string(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), length)
        case LUA_TTABLE:
            try table(at: slot)
        case LUA_TLIGHTUSERDATA, LUA_TUSERDATA:
            guard lua_rawequal(L, slot, nullSlot) != 0 else {
                throw failure("cannot encode a userdata value (only json.null)")
            }
            try out.append("null")
        default:
            throw failure("cannot encode a \(String(cString: lua_typename(L, lua_type(L, slot)))) value")
        }
    }

    // MARK: Tables

    private enum Shape { case array, object, either }

    /// Objects with more keys than this keep their keys in an anchor table
    /// instead of on the Lua stack (which holds at most 1,000,000 values).
    private static let keysOnStackLimit: Int64 = 50_000

    /// Charges the call's budget every this many values.
    private static let valuesPerCharge = 4096

    private mutating func charge() throws(JSONError) {
        valuesSinceCharge += 1
        // Also check whenever the output grew by 64 KiB, so one call cannot
        // write far past the memory budget between two charges.
        guard valuesSinceCharge >= Self.valuesPerCharge || out.count - checkedOutput > 1 << 16 else { return }
        try spend()
    }

    /// Charges the values written since the last charge and checks the
    /// budget (instructions, deadline, interrupts, and the output buffer,
    /// which lives outside the Lua heap but counts against the memory budget).
    private mutating func spend() throws(JSONError) {
        let units = Int64(valuesSinceCharge) + Int64((out.count - checkedOutput) / 32)
        checkedOutput = out.count
        valuesSinceCharge = 0
        if keep_budget_spend(L, units, out.count) != 0 {
            throw JSONError(.limit, "budget exceeded")
        }
    }

    private mutating func table(at slot: Int32) throws(JSONError) {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth {
            throw failure("nesting deeper than \(Self.maximumDepth) levels (is there a cycle?)")
        }
        guard lua_checkstack(L, 4) != 0 else { throw failure("nesting too deep for the Lua stack") }
        var shape = Shape.either
        if lua_getmetatable(L, slot) != 0 {
            if lua_rawequal(L, -1, arraySlot) != 0 { shape = .array }
            if lua_rawequal(L, -1, objectSlot) != 0 { shape = .object }
            lua_settop(L, -2)
        }
        // First pass: count the keys and see whether they are exactly 1…n.
        var count: Int64 = 0
        var allIndices = true
        var largest: Int64 = 0
        lua_pushnil(L)
        while lua_next(L, slot) != 0 {
            lua_settop(L, -2)
            count += 1
            if lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1) != 0 {
                let key = lua_tointegerx(L, -1, nil)
                if key < 1 { allIndices = false } else { largest = max(largest, key) }
            } else {
                allIndices = false
            }
        }
        let isArray: Bool
        switch shape {
        case .array:
            guard allIndices && largest == count else {
                throw failure("a table marked as a JSON array must have keys 1…n only")
            }
            isArray = true
        case .object:
            isArray = false
        case .either:
            isArray = count > 0 && allIndices && largest == count
        }
        if isArray {
            try array(count: count, slot: slot)
        } else {
            try object(count: count, slot: slot)
        }
    }

    private mutating func array(count: Int64, slot: Int32) throws(JSONError) {
        if count == 0 {
            try out.append("[]")
            return
        }
        try out.append(UInt8(ascii: "["))
        for i in 1 ... count {
            if i > 1 { try out.append(UInt8(ascii: ",")) }
            if canonical { try indent() }
            lua_rawgeti(L, slot, i)
            try value(at: lua_gettop(L))
            lua_settop(L, -2)
            try charge()
        }
        if canonical { try closeIndent() }
        try out.append(UInt8(ascii: "]"))
    }

    @inline(__always)
    private mutating func indent() throws(JSONError) {
        try out.append(UInt8(ascii: "\n"))
        try out.appendRepeated(UInt8(ascii: " "), 2 * depth)
    }

    @inline(__always)
    private mutating func closeIndent() throws(JSONError) {
        try out.append(UInt8(ascii: "\n"))
        try out.appendRepeated(UInt8(ascii: " "), 2 * (depth - 1))
    }

    /// Second pass for objects: keys are gathered (as strings, anchored on the
    /// stack or, for huge objects, in a table), sorted, then written with
    /// their values looked up again.
    private mutating func object(count: Int64, slot: Int32) throws(JSONError) {
        if count == 0 {
            try out.append("{}")
            return
        }
        let base = lua_gettop(L)
        defer { lua_settop(L, base) }
        let anchored = count > Self.keysOnStackLimit
        if anchored {
            lua_createtable(L, Int32(clamping: count), 0)
        } else if lua_checkstack(L, Int32(count) + 4) == 0 {
            throw failure("table too large to encode")
        }
        let anchor = lua_gettop(L)
        let first = entries.count
        defer { entries.removeSubrange(first...) }
        var position: Int64 = 0
        lua_pushnil(L)
        while lua_next(L, slot) != 0 {
            lua_settop(L, -2)
            position += 1
            // The text of the key: strings as they are; integer keys as their
            // decimal text, as JavaScript property keys would be (converting a
            // copy, never the key lua_next is iterating with).
            lua_pushvalue(L, -1)
            var integerKey: Int64?
            switch lua_type(L, -1) {
            case LUA_TSTRING:
                break
            case LUA_TNUMBER where lua_isinteger(L, -1) != 0:
                integerKey = lua_tointegerx(L, -1, nil)
                _ = lua_tolstring(L, -1, nil)
            case LUA_TNUMBER:
                throw failure("cannot encode the table key \(lua_tonumberx(L, -1, nil)) (object keys are strings or integers)")
            default:
                let typeName = String(cString: lua_typename(L, lua_type(L, -1)))
                throw failure("cannot encode a table key of type \(typeName) (object keys are strings or integers)")
            }
            var length = 0
            let key = UnsafeRawPointer(lua_tolstring(L, -1, &length)!).assumingMemoryBound(to: UInt8.self)
            let keySlot: Int32
            if anchored {
                lua_rawseti(L, anchor, position)
                keySlot = -1
            } else {
                // Keep the text on the stack below the iteration key.
                lua_rotate(L, -2, 1)
                keySlot = lua_gettop(L) - 1
            }
            entries.append(ObjectEntry(key: key, length: length, keySlot: keySlot, anchorIndex: position,
                                       integerKey: integerKey, index: JSONKeyOrder.arrayIndex(key, length)))
        }
        entries[first...].sort(by: Self.precedes)
        try out.append(UInt8(ascii: "{"))
        for i in first ..< entries.count {
            let entry = entries[i]
            if i > first {
                try out.append(UInt8(ascii: ","))
                let previous = entries[i - 1]
                if previous.length == entry.length && memcmp(previous.key, entry.key, entry.length) == 0 {
                    throw failure("the table has the key '\(String(decoding: UnsafeBufferPointer(start: entry.key, count: entry.length), as: UTF8.self))' twice (as an integer and as a string)")
                }
            }
            if canonical { try indent() }
            try string(entry.key, entry.length)
            if canonical { try out.append(": ") } else { try out.append(UInt8(ascii: ":")) }
            // The value, looked up again by the original key.
            if let integer = entry.integerKey {
                lua_pushinteger(L, integer)
            } else if anchored {
                lua_rawgeti(L, anchor, entry.anchorIndex)
            } else {
                lua_pushvalue(L, entry.keySlot)
            }
            lua_rawget(L, slot)
            try value(at: lua_gettop(L))
            lua_settop(L, -2)
            try charge()
        }
        if canonical { try closeIndent() }
        try out.append(UInt8(ascii: "}"))
    }

    private static func precedes(_ a: ObjectEntry, _ b: ObjectEntry) -> Bool {
        JSONKeyOrder.precedes(a.key, a.length, index: a.index, b.key, b.length, index: b.index)
    }

    // MARK: Strings

    /// Strings are escaped this many bytes at a time, the budget checked in
    /// between: a string of escapes grows the output six times its size.
    private static let stringPiece = 1 << 14

    private mutating func string(_ bytes: UnsafePointer<UInt8>, _ length: Int) throws(JSONError) {
        guard length > Self.stringPiece else {
            try out.appendQuoted(bytes, length)
            return
        }
        try out.append(UInt8(ascii: "\""))
        var p = bytes
        let end = bytes + length
        while p < end {
            var pieceEnd = min(p + Self.stringPiece, end)
            // Pieces end between characters (a lead byte is never cut from its sequence).
            var backed = 0
            while pieceEnd < end && pieceEnd.pointee & 0xC0 == 0x80 && backed < 3 {
                pieceEnd -= 1
                backed += 1
            }
            try out.appendEscaped(p, pieceEnd - p, origin: bytes)
            p = pieceEnd
            if out.count - checkedOutput > 1 << 16 { try spend() }
        }
        try out.append(UInt8(ascii: "\""))
    }

    private func failure(_ problem: String) -> JSONError {
        JSONError(.invalid, problem)
    }
}
