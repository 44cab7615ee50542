#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLua
import CLuaShim
import KeepCore

/// Decodes JSON text (RFC 8259) straight into Lua values.
///
/// Numbers without fraction or exponent that fit in 64 bits become Lua
/// integers, others floats (`-0` becomes the float -0.0, keeping its sign).
/// Arrays get the `json.array` marker metatable and empty objects the
/// `json.object` one, so `[]` and `{}` survive a round trip. `null` becomes
/// `json.null`. Strings must be valid UTF-8; `\u` escapes must not leave a
/// surrogate unpaired. Duplicate keys: the last wins, as in JavaScript.
struct JSONDecoder {
    static let maximumDepth = 1000

    private let L: OpaquePointer
    private let start: UnsafePointer<UInt8>
    private let end: UnsafePointer<UInt8>
    private var p: UnsafePointer<UInt8>
    private var depth = 0
    private var valuesSinceCharge = 0
    /// Stack slots of json.null and the two marker metatables.
    private let nullSlot: Int32
    private let arraySlot: Int32
    private let objectSlot: Int32
    /// Unescaped strings are assembled here (never longer than the input).
    private let scratch: UnsafeMutablePointer<UInt8>

    /// [-0, +1] Decodes `length` bytes at `bytes` and pushes the value. The three
    /// slots hold json.null and the array and object metatables.
    static func decode(_ L: OpaquePointer, _ bytes: UnsafePointer<UInt8>, _ length: Int,
                       nullSlot: Int32, arraySlot: Int32, objectSlot: Int32) throws(KeepError) {
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: max(length, 1))
        defer { scratch.deallocate() }
        var decoder = JSONDecoder(L: L, start: bytes, end: bytes + length, p: bytes,
                                  nullSlot: nullSlot, arraySlot: arraySlot, objectSlot: objectSlot,
                                  scratch: scratch)
        let top = lua_gettop(L)
        do throws(KeepError) {
            decoder.skipSpace()
            try decoder.value()
            decoder.skipSpace()
            if decoder.p != decoder.end { throw decoder.failure("unexpected data after the JSON value") }
        } catch {
            lua_settop(L, top)
            throw error
        }
    }

    // MARK: Values

    private mutating func value() throws(KeepError) {
        valuesSinceCharge += 1
        if valuesSinceCharge >= 4096 {
            valuesSinceCharge = 0
            if keep_budget_spend(L, 4096, 0) != 0 { throw KeepError(.limit, "json.decode: budget exceeded") }
        }
        guard p < end else { throw failure("unexpected end of input, expected a value") }
        switch p.pointee {
        case UInt8(ascii: "{"): try object()
        case UInt8(ascii: "["): try array()
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true"); lua_pushboolean(L, 1)
        case UInt8(ascii: "f"): try literal("false"); lua_pushboolean(L, 0)
        case UInt8(ascii: "n"): try literal("null"); lua_pushvalue(L, nullSlot)
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): try number()
        default: throw failure("unexpected character '\(Self.show(p.pointee))', expected a value")
        }
    }

    private mutating func enter() throws(KeepError) {
        depth += 1
        if depth > Self.maximumDepth {
            throw failure("nesting deeper than \(Self.maximumDepth) levels")
        }
        if lua_checkstack(L, 4) == 0 { throw failure("nesting too deep for the Lua stack") }
    }

    private mutating func object() throws(KeepError) {
        try enter()
        p += 1
        lua_createtable(L, 0, 0)
        skipSpace()
        if p < end && p.pointee == UInt8(ascii: "}") {
            p += 1
            lua_pushvalue(L, objectSlot)
            lua_setmetatable(L, -2)
            depth -= 1
            return
        }
        while true {
            guard p < end, p.pointee == UInt8(ascii: "\"") else {
                throw failure(p < end ? "expected a string key" : "unexpected end of input in an object")
            }
            try string()
            skipSpace()
            guard p < end, p.pointee == UInt8(ascii: ":") else { throw failure("expected ':' after a key") }
            p += 1
            skipSpace()
            try value()
            lua_rawset(L, -3)
            skipSpace()
            guard p < end else { throw failure("unexpected end of input in an object") }
            if p.pointee == UInt8(ascii: ",") {
                p += 1
                skipSpace()
                continue
            }
            if p.pointee == UInt8(ascii: "}") { p += 1; break }
            throw failure("expected ',' or '}' in an object")
        }
        depth -= 1
    }

    private mutating func array() throws(KeepError) {
        try enter()
        p += 1
        lua_createtable(L, 0, 0)
        lua_pushvalue(L, arraySlot)
        lua_setmetatable(L, -2)
        skipSpace()
        if p < end && p.pointee == UInt8(ascii: "]") {
            p += 1
            depth -= 1
            return
        }
        var index: lua_Integer = 1
        while true {
            try value()
            lua_rawseti(L, -2, index)
            index += 1
            skipSpace()
            guard p < end else { throw failure("unexpected end of input in an array") }
            if p.pointee == UInt8(ascii: ",") {
                p += 1
                skipSpace()
                continue
            }
            if p.pointee == UInt8(ascii: "]") { p += 1; break }
            throw failure("expected ',' or ']' in an array")
        }
        depth -= 1
    }

    private mutating func literal(_ word: StaticString) throws(KeepError) {
        let length = word.utf8CodeUnitCount
        guard end - p >= length, memcmp(p, word.utf8Start, length) == 0 else {
            throw failure("invalid literal, expected '\(word)'")
        }
        p += length
    }

    // MARK: Numbers

    private mutating func number() throws(KeepError) {
        let numberStart = p
        var negative = false
        if p.pointee == UInt8(ascii: "-") {
            negative = true
            p += 1
        }
        guard p < end, Self.isDigit(p.pointee) else { throw failure("expected a digit") }
        var integer: UInt64 = 0
        var overflow = false
        if p.pointee == UInt8(ascii: "0") {
            p += 1
            if p < end && Self.isDigit(p.pointee) { throw failure("leading zeros are not allowed in numbers") }
        } else {
            while p < end && Self.isDigit(p.pointee) {
                let (times10, o1) = integer.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(p.pointee &- 0x30))
                overflow = overflow || o1 || o2
                integer = sum
                p += 1
            }
        }
        var isFloat = false
        if p < end && p.pointee == UInt8(ascii: ".") {
            isFloat = true
            p += 1
            guard p < end, Self.isDigit(p.pointee) else { throw failure("expected a digit after '.'") }
            while p < end && Self.isDigit(p.pointee) { p += 1 }
        }
        if p < end && (p.pointee == UInt8(ascii: "e") || p.pointee == UInt8(ascii: "E")) {
            isFloat = true
            p += 1
            if p < end && (p.pointee == UInt8(ascii: "+") || p.pointee == UInt8(ascii: "-")) { p += 1 }
            guard p < end, Self.isDigit(p.pointee) else { throw failure("expected a digit in the exponent") }
            while p < end && Self.isDigit(p.pointee) { p += 1 }
        }
        if !isFloat && !overflow {
            if negative {
                if integer == 0 {
                    lua_pushnumber(L, -0.0)
                    return
                }
                if integer <= UInt64(Int64.max) + 1 {
                    lua_pushinteger(L, Int64(truncatingIfNeeded: 0 &- integer))
                    return
                }
            } else if integer <= UInt64(Int64.max) {
                lua_pushinteger(L, Int64(integer))
                return
            }
        }
        lua_pushnumber(L, Self.parseDouble(numberStart, p - numberStart))
    }

    /// strtod in the C locale on a NUL-terminated copy (the span is a valid JSON number).
    private static func parseDouble(_ start: UnsafePointer<UInt8>, _ length: Int) -> Double {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
            let base = buffer.baseAddress!
            start.withMemoryRebound(to: CChar.self, capacity: length) { base.update(from: $0, count: length) }
            base[length] = 0
            return keep_strtod_c(base)
        }
    }

    // MARK: Strings

    private mutating func string() throws(KeepError) {
        p += 1
        let contentStart = p
        // Fast path: no escapes; push straight from the input.
        while p < end {
            let byte = p.pointee
            if byte == UInt8(ascii: "\"") {
                contentStart.withMemoryRebound(to: CChar.self, capacity: p - contentStart) {
                    _ = lua_pushlstring(L, $0, p - contentStart)
                }
                p += 1
                return
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw failure("control character in a string (escape it)") }
            if byte >= 0x80 { try skipUTF8() } else { p += 1 }
        }
        guard p < end else { throw failure("unterminated string") }
        // Slow path: copy what was scanned, then unescape.
        var length = p - contentStart
        scratch.update(from: contentStart, count: length)
        while p < end {
            let byte = p.pointee
            if byte == UInt8(ascii: "\"") {
                scratch.withMemoryRebound(to: CChar.self, capacity: length) { _ = lua_pushlstring(L, $0, length) }
                p += 1
                return
            }
            if byte == UInt8(ascii: "\\") {
                p += 1
                guard p < end else { break }
                let escape = p.pointee
                p += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"):
                    scratch[length] = escape; length += 1
                case UInt8(ascii: "b"): scratch[length] = 0x08; length += 1
                case UInt8(ascii: "f"): scratch[length] = 0x0C; length += 1
                case UInt8(ascii: "n"): scratch[length] = 0x0A; length += 1
                case UInt8(ascii: "r"): scratch[length] = 0x0D; length += 1
                case UInt8(ascii: "t"): scratch[length] = 0x09; length += 1
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard end - p >= 6, p[0] == UInt8(ascii: "\\"), p[1] == UInt8(ascii: "u") else {
                            throw failure("unpaired surrogate \\u\(String(scalar, radix: 16))")
                        }
                        p += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else {
                            throw failure("unpaired surrogate \\u\(String(scalar, radix: 16))")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw failure("unpaired surrogate \\u\(String(scalar, radix: 16))")
                    }
                    length += Self.writeUTF8(scalar, to: scratch + length)
                default:
                    p -= 1
                    throw failure("invalid escape '\\\(Self.show(escape))'")
                }
                continue
            }
            if byte < 0x20 { throw failure("control character in a string (escape it)") }
            let sequenceStart = p
            if byte >= 0x80 { try skipUTF8() } else { p += 1 }
            let sequenceLength = p - sequenceStart
            scratch.advanced(by: length).update(from: sequenceStart, count: sequenceLength)
            length += sequenceLength
        }
        throw failure("unterminated string")
    }

    private mutating func hex4() throws(KeepError) -> UInt32 {
        guard end - p >= 4 else { throw failure("expected four hex digits after \\u") }
        var value: UInt32 = 0
        for _ in 0 ..< 4 {
            let byte = p.pointee
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): digit = byte - 0x30
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): digit = byte - 0x61 + 10
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): digit = byte - 0x41 + 10
            default: throw failure("expected four hex digits after \\u")
            }
            value = value << 4 | UInt32(digit)
            p += 1
        }
        return value
    }

    /// Steps over one valid UTF-8 sequence starting at p (first byte ≥ 0x80).
    private mutating func skipUTF8() throws(KeepError) {
        let length = UTF8Validation.sequenceLength(p, end)
        guard length > 0 else { throw failure("invalid UTF-8 in a string") }
        p += length
    }

    private static func writeUTF8(_ scalar: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0 ..< 0x80:
            out[0] = UInt8(scalar); return 1
        case 0x80 ..< 0x800:
            out[0] = UInt8(0xC0 | scalar >> 6); out[1] = UInt8(0x80 | scalar & 0x3F); return 2
        case 0x800 ..< 0x10000:
            out[0] = UInt8(0xE0 | scalar >> 12); out[1] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[2] = UInt8(0x80 | scalar & 0x3F); return 3
        default:
            out[0] = UInt8(0xF0 | scalar >> 18); out[1] = UInt8(0x80 | scalar >> 12 & 0x3F)
            out[2] = UInt8(0x80 | scalar >> 6 & 0x3F); out[3] = UInt8(0x80 | scalar & 0x3F); return 4
        }
    }

    // MARK: Helpers

    @inline(__always)
    private mutating func skipSpace() {
        while p < end {
            let byte = p.pointee
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            p += 1
        }
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    private static func show(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }

    private func failure(_ problem: String) -> KeepError {
        var line = 1
        var column = 1
        var q = start
        while q < p && q < end {
            if q.pointee == 0x0A { line += 1; column = 1 } else { column += 1 }
            q += 1
        }
        return KeepError(.invalid, "json.decode: \(problem) at line \(line) column \(column) (byte \(p - start + 1))")
    }
}

/// UTF-8 well-formedness (Unicode §3.9, table 3-7): no overlongs, no
/// surrogates, nothing above U+10FFFF.
enum UTF8Validation {
    /// Length of the valid sequence at `p` (first byte ≥ 0x80), or 0.
    @inline(__always)
    static func sequenceLength(_ p: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> Int {
        let b0 = p[0]
        let available = end - p
        @inline(__always) func cont(_ i: Int) -> Bool { i < available && p[i] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2 ... 0xDF:
            return cont(1) ? 2 : 0
        case 0xE0:
            return available >= 3 && p[1] >= 0xA0 && p[1] <= 0xBF && cont(2) ? 3 : 0
        case 0xE1 ... 0xEC, 0xEE ... 0xEF:
            return cont(1) && cont(2) ? 3 : 0
        case 0xED:
            return available >= 3 && p[1] >= 0x80 && p[1] <= 0x9F && cont(2) ? 3 : 0
        case 0xF0:
            return available >= 4 && p[1] >= 0x90 && p[1] <= 0xBF && cont(2) && cont(3) ? 4 : 0
        case 0xF1 ... 0xF3:
            return cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4:
            return available >= 4 && p[1] >= 0x80 && p[1] <= 0x8F && cont(2) && cont(3) ? 4 : 0
        default:
            return 0
        }
    }

    /// Whether all `count` bytes at `p` are valid UTF-8.
    static func isValid(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var q = p
        let end = p + count
        while q < end {
            if q.pointee < 0x80 { q += 1; continue }
            let length = sequenceLength(q, end)
            if length == 0 { return false }
            q += length
        }
        return true
    }
}
