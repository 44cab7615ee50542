import CLua
import CLuaShim
import KeepCore
import KeepJSON

/// Decodes JSON text straight into Lua values: the `JSONHandler` that
/// `JSONParser` (Keep's one JSON reader, whose rules the merge shares) drives.
///
/// Numbers without fraction or exponent that fit in 64 bits become Lua
/// integers, others floats (`-0` becomes the float -0.0, keeping its sign):
/// `JSONNumberToken.integerValue`. Arrays get the `json.array` marker
/// metatable and empty objects the `json.object` one, so `[]` and `{}` survive
/// a round trip. `null` becomes `json.null`. Duplicate keys: the last wins, as
/// in JavaScript (each member is `rawset` in turn).
struct JSONDecoder: JSONHandler {
    private let L: OpaquePointer
    private var valuesSinceCharge = 0
    /// Stack slots of json.null and the two marker metatables.
    private let nullSlot: Int32
    private let arraySlot: Int32
    private let objectSlot: Int32

    /// [-0, +1] Decodes `length` bytes at `bytes` and pushes the value. The three
    /// slots hold json.null and the array and object metatables.
    static func decode(_ L: OpaquePointer, _ bytes: UnsafePointer<UInt8>, _ length: Int,
                       nullSlot: Int32, arraySlot: Int32, objectSlot: Int32) throws(KeepError) {
        var decoder = JSONDecoder(L: L, nullSlot: nullSlot, arraySlot: arraySlot, objectSlot: objectSlot)
        let top = lua_gettop(L)
        do throws(JSONError) {
            try JSONParser.parse(UnsafeBufferPointer(start: bytes, count: length), with: &decoder)
        } catch {
            lua_settop(L, top)
            throw KeepError(json: error, in: "json.decode")
        }
    }

    private init(L: OpaquePointer, nullSlot: Int32, arraySlot: Int32, objectSlot: Int32) {
        self.L = L
        self.nullSlot = nullSlot
        self.arraySlot = arraySlot
        self.objectSlot = objectSlot
    }

    /// Charges the call's budget every 4,096 values.
    @inline(__always)
    private mutating func charge() throws(JSONError) {
        valuesSinceCharge += 1
        if valuesSinceCharge >= 4096 {
            valuesSinceCharge = 0
            if keep_budget_spend(L, 4096, 0) != 0 { throw JSONError(.limit, "budget exceeded") }
        }
    }

    private mutating func enter() throws(JSONError) {
        try charge()
        if lua_checkstack(L, 4) == 0 { throw JSONError(.invalid, "nesting too deep for the Lua stack") }
        lua_createtable(L, 0, 0)
    }

    mutating func beginObject(at offset: Int) throws(JSONError) {
        try enter()
    }

    mutating func key(_ key: JSONStringToken, at offset: Int) throws(JSONError) {
        push(key)
    }

    mutating func endMember() throws(JSONError) {
        lua_rawset(L, -3)
    }

    mutating func endObject(members: Int, end: Int, hadSpace: Bool) throws(JSONError) {
        if members == 0 {
            lua_pushvalue(L, objectSlot)
            lua_setmetatable(L, -2)
        }
    }

    mutating func beginArray(at offset: Int) throws(JSONError) {
        try enter()
        lua_pushvalue(L, arraySlot)
        lua_setmetatable(L, -2)
    }

    mutating func endElement(_ index: Int) throws(JSONError) {
        lua_rawseti(L, -2, lua_Integer(index))
    }

    mutating func endArray(elements: Int, end: Int, hadSpace: Bool) throws(JSONError) {}

    mutating func string(_ string: JSONStringToken, from: Int, to: Int) throws(JSONError) {
        try charge()
        push(string)
    }

    mutating func number(_ number: JSONNumberToken, from: Int, to: Int) throws(JSONError) {
        try charge()
        if let integer = number.integerValue {
            lua_pushinteger(L, integer)
        } else {
            lua_pushnumber(L, number.doubleValue)
        }
    }

    mutating func literal(_ literal: JSONLiteral, from: Int, to: Int) throws(JSONError) {
        try charge()
        switch literal {
        case .true: lua_pushboolean(L, 1)
        case .false: lua_pushboolean(L, 0)
        case .null: lua_pushvalue(L, nullSlot)
        }
    }

    @inline(__always)
    private func push(_ string: JSONStringToken) {
        string.bytes.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
    }
}

extension KeepError {
    /// A KeepLua error for a JSON error of `function`'s: `limit` stays
    /// `limit`, everything else is `invalid`.
    init(json error: JSONError, in function: String) {
        self.init(error.code == .limit ? .limit : .invalid, "\(function): \(error)")
    }
}
