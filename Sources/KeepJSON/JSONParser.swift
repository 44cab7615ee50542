/// Keep's one JSON reader (RFC 8259), for every caller: `json.decode` builds
/// Lua values with it, the merge builds a `JSONTree`. So both accept exactly
/// the same texts and read them the same way:
///
/// - the text is one value, white space around it, nothing after it; no BOM;
/// - strings are valid UTF-8 without raw control characters; `\u` escapes
///   must not leave a surrogate unpaired;
/// - numbers follow the RFC grammar (no leading zeros, no `+`, no `.5`); any
///   magnitude is read (the handler decides what `1e400` or a 30-digit integer is);
/// - nesting is at most `JSONLimits.maximumDepth` levels;
/// - a key may repeat: the handler sees every member, and both handlers
///   keep the last (as JavaScript's `JSON.parse` does).
///
/// The parser is generic over its handler and inlinable, so each caller gets
/// a specialized copy with the handler's calls inlined (`json.decode` is a hot path).
public struct JSONParser<Handler: JSONHandler> {
    @usableFromInline let start: UnsafePointer<UInt8>
    @usableFromInline let end: UnsafePointer<UInt8>
    @usableFromInline var p: UnsafePointer<UInt8>
    @usableFromInline var depth = 0
    /// Unescaped strings are assembled here (never longer than the input).
    @usableFromInline let scratch: UnsafeMutablePointer<UInt8>
    @usableFromInline var handler: Handler

    @inlinable
    init(start: UnsafePointer<UInt8>, count: Int, scratch: UnsafeMutablePointer<UInt8>, handler: Handler) {
        self.start = start
        end = start + count
        p = start
        self.scratch = scratch
        self.handler = handler
    }

    /// Reads `text`, reporting its tokens to `handler`.
    @inlinable
    public static func parse(_ text: UnsafeBufferPointer<UInt8>, with handler: inout Handler) throws(JSONError) {
        let base = text.baseAddress ?? UnsafePointer(bitPattern: 1)!  // empty text: never read
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: max(text.count, 1))
        defer { scratch.deallocate() }
        var parser = JSONParser(start: base, count: text.count, scratch: scratch, handler: handler)
        defer { handler = parser.handler }
        _ = parser.skipSpace()
        try parser.value()
        _ = parser.skipSpace()
        if parser.p != parser.end { throw parser.failure("unexpected data after the JSON value") }
    }

    @inlinable
    var offset: Int { p - start }

    // MARK: Values

    @inlinable
    mutating func value() throws(JSONError) {
        guard p < end else { throw failure("unexpected end of input, expected a value") }
        let from = offset
        switch p.pointee {
        case UInt8(ascii: "{"): try object()
        case UInt8(ascii: "["): try array()
        case UInt8(ascii: "\""):
            let contents = try string()
            try handler.string(contents, from: from, to: offset)
        case UInt8(ascii: "t"): try literal("true"); try handler.literal(.true, from: from, to: offset)
        case UInt8(ascii: "f"): try literal("false"); try handler.literal(.false, from: from, to: offset)
        case UInt8(ascii: "n"): try literal("null"); try handler.literal(.null, from: from, to: offset)
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"):
            let number = try number()
            try handler.number(number, from: from, to: offset)
        default: throw failure("unexpected character '\(Self.show(p.pointee))', expected a value")
        }
    }

    @inlinable
    mutating func enter() throws(JSONError) {
        depth += 1
        if depth > JSONLimits.maximumDepth { throw failure("nesting deeper than \(JSONLimits.maximumDepth) levels") }
    }

    @inlinable
    mutating func object() throws(JSONError) {
        try enter()
        try handler.beginObject(at: offset)
        p += 1
        var hadSpace = skipSpace()
        var members = 0
        if p < end && p.pointee == UInt8(ascii: "}") {
            p += 1
        } else {
            while true {
                guard p < end, p.pointee == UInt8(ascii: "\"") else {
                    throw failure(p < end ? "expected a string key" : "unexpected end of input in an object")
                }
                let keyOffset = offset
                let key = try string()
                try handler.key(key, at: keyOffset)
                if skipSpace() { hadSpace = true }
                guard p < end, p.pointee == UInt8(ascii: ":") else { throw failure("expected ':' after a key") }
                p += 1
                if skipSpace() { hadSpace = true }
                try value()
                try handler.endMember()
                members += 1
                if skipSpace() { hadSpace = true }
                guard p < end else { throw failure("unexpected end of input in an object") }
                if p.pointee == UInt8(ascii: ",") {
                    p += 1
                    if skipSpace() { hadSpace = true }
                    continue
                }
                if p.pointee == UInt8(ascii: "}") { p += 1; break }
                throw failure("expected ',' or '}' in an object")
            }
        }
        depth -= 1
        try handler.endObject(members: members, end: offset, hadSpace: hadSpace)
    }

    @inlinable
    mutating func array() throws(JSONError) {
        try enter()
        try handler.beginArray(at: offset)
        p += 1
        var hadSpace = skipSpace()
        var elements = 0
        if p < end && p.pointee == UInt8(ascii: "]") {
            p += 1
        } else {
            while true {
                try value()
                elements += 1
                try handler.endElement(elements)
                if skipSpace() { hadSpace = true }
                guard p < end else { throw failure("unexpected end of input in an array") }
                if p.pointee == UInt8(ascii: ",") {
                    p += 1
                    if skipSpace() { hadSpace = true }
                    continue
                }
                if p.pointee == UInt8(ascii: "]") { p += 1; break }
                throw failure("expected ',' or ']' in an array")
            }
        }
        depth -= 1
        try handler.endArray(elements: elements, end: offset, hadSpace: hadSpace)
    }

    @inlinable
    mutating func literal(_ word: StaticString) throws(JSONError) {
        let length = word.utf8CodeUnitCount
        guard end - p >= length else { throw failure("invalid literal, expected '\(word)'") }
        for n in 0 ..< length where p[n] != word.utf8Start[n] {
            throw failure("invalid literal, expected '\(word)'")
        }
        p += length
    }

    // MARK: Numbers

    @inlinable
    mutating func number() throws(JSONError) -> JSONNumberToken {
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
        var isInteger = true
        if p < end && p.pointee == UInt8(ascii: ".") {
            isInteger = false
            p += 1
            guard p < end, Self.isDigit(p.pointee) else { throw failure("expected a digit after '.'") }
            while p < end && Self.isDigit(p.pointee) { p += 1 }
        }
        if p < end && (p.pointee == UInt8(ascii: "e") || p.pointee == UInt8(ascii: "E")) {
            isInteger = false
            p += 1
            if p < end && (p.pointee == UInt8(ascii: "+") || p.pointee == UInt8(ascii: "-")) { p += 1 }
            guard p < end, Self.isDigit(p.pointee) else { throw failure("expected a digit in the exponent") }
            while p < end && Self.isDigit(p.pointee) { p += 1 }
        }
        return JSONNumberToken(text: UnsafeBufferPointer(start: numberStart, count: p - numberStart),
                               isInteger: isInteger, isNegative: negative, magnitude: integer, overflow: overflow)
    }

    // MARK: Strings

    /// A string from its opening quote.
    @inlinable
    mutating func string() throws(JSONError) -> JSONStringToken {
        p += 1
        let contentStart = p
        skipPlainASCII()
        // Most strings have no escapes: their contents stay in the text.
        while p < end {
            let byte = p.pointee
            if byte == UInt8(ascii: "\"") {
                let contents = UnsafeBufferPointer(start: contentStart, count: p - contentStart)
                p += 1
                return JSONStringToken(bytes: contents, isDecoded: false, hasOnlyCanonicalEscapes: true)
            }
            if byte == UInt8(ascii: "\\") { return try escapedString(from: contentStart) }
            if byte < 0x20 { throw failure("control character in a string (escape it)") }
            if byte >= 0x80 { try skipUTF8() } else { p += 1 }
        }
        throw failure("unterminated string")
    }

    /// Moves past bytes of a string that need no look, eight at a time while
    /// none is a quote, a backslash, a control character or non-ASCII (the
    /// usual SWAR tests for a zero byte, a byte below 0x20 and a high bit; a
    /// false alarm only stops early, leaving the rest to the byte-by-byte loop).
    @inlinable @inline(__always)
    mutating func skipPlainASCII() {
        while end - p >= 8, Self.isPlainASCII(UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)) { p += 8 }
    }

    /// Whether none of eight bytes is a quote, a backslash, a control
    /// character or non-ASCII.
    @inlinable @inline(__always)
    static func isPlainASCII(_ v: UInt64) -> Bool {
        let quote = v ^ 0x2222_2222_2222_2222
        let backslash = v ^ 0x5C5C_5C5C_5C5C_5C5C
        let special = ((quote &- 0x0101_0101_0101_0101) & ~quote)
            | ((backslash &- 0x0101_0101_0101_0101) & ~backslash)
            | ((v &- 0x2020_2020_2020_2020) & ~v) | v
        return special & 0x8080_8080_8080_8080 == 0
    }

    /// The rest of a string from its first escape: what was scanned is copied
    /// to the scratch memory, then unescaped there; the text between escapes
    /// is copied a run at a time.
    @inlinable
    mutating func escapedString(from contentStart: UnsafePointer<UInt8>) throws(JSONError) -> JSONStringToken {
        var length = p - contentStart
        scratch.update(from: contentStart, count: length)
        var canonical = true
        while p < end {
            let byte = p.pointee
            if byte == UInt8(ascii: "\"") {
                p += 1
                return JSONStringToken(bytes: UnsafeBufferPointer(start: scratch, count: length), isDecoded: true,
                                       hasOnlyCanonicalEscapes: canonical)
            }
            if byte == UInt8(ascii: "\\") {
                p += 1
                guard p < end else { break }
                let escape = p.pointee
                p += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    scratch[length] = escape; length += 1
                case UInt8(ascii: "/"):
                    scratch[length] = escape; length += 1
                    canonical = false
                case UInt8(ascii: "b"): scratch[length] = 0x08; length += 1
                case UInt8(ascii: "f"): scratch[length] = 0x0C; length += 1
                case UInt8(ascii: "n"): scratch[length] = 0x0A; length += 1
                case UInt8(ascii: "r"): scratch[length] = 0x0D; length += 1
                case UInt8(ascii: "t"): scratch[length] = 0x09; length += 1
                case UInt8(ascii: "u"):
                    let digits = p
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
                        canonical = false
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw failure("unpaired surrogate \\u\(String(scalar, radix: 16))")
                    } else if canonical {
                        // JSON.stringify writes \u00xx, lowercase, for controls without a short escape.
                        canonical = scalar < 0x20 && Self.isCanonicalHexEscape(digits, UInt8(scalar))
                    }
                    length += Self.writeUTF8(scalar, to: scratch + length)
                default:
                    p -= 1
                    throw failure("invalid escape '\\\(Self.show(escape))'")
                }
                continue
            }
            if byte < 0x20 { throw failure("control character in a string (escape it)") }
            // The text up to the next escape, copied as it is scanned: eight
            // bytes at a time while they are plain ASCII (the decoded text
            // is never longer than what was read, so the scratch memory,
            // as long as the input, holds the eight), else a character.
            while true {
                while end - p >= 8 {
                    let word = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
                    guard Self.isPlainASCII(word) else { break }
                    UnsafeMutableRawPointer(scratch + length).storeBytes(of: word, as: UInt64.self)
                    length += 8
                    p += 8
                }
                guard p < end else { break }
                let next = p.pointee
                if next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") || next < 0x20 { break }
                if next < 0x80 {
                    scratch[length] = next
                    length += 1
                    p += 1
                } else {
                    let character = p
                    try skipUTF8()
                    for offset in 0 ..< p - character { scratch[length + offset] = character[offset] }
                    length += p - character
                }
            }
        }
        throw failure("unterminated string")
    }

    @inlinable
    mutating func hex4() throws(JSONError) -> UInt32 {
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
    @inlinable
    mutating func skipUTF8() throws(JSONError) {
        let length = UTF8Validation.sequenceLength(p, end)
        guard length > 0 else { throw failure("invalid UTF-8 in a string") }
        p += length
    }

    @inlinable
    static func writeUTF8(_ scalar: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
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

    /// Skips white space; returns whether there was any.
    @inlinable @inline(__always)
    mutating func skipSpace() -> Bool {
        // White space is at most 0x20: testing first spares compact text the loop.
        guard p < end, p.pointee <= 0x20 else { return false }
        let first = p
        while p < end {
            let byte = p.pointee
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { break }
            p += 1
        }
        return p != first
    }

    @inlinable @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// Whether the four hex digits at `digits` are the ones JSON.stringify writes for `byte`.
    @usableFromInline
    static func isCanonicalHexEscape(_ digits: UnsafePointer<UInt8>, _ byte: UInt8) -> Bool {
        guard JSONEscape.shortEscape(byte) == nil else { return false }
        let written = JSONEscape.hexDigits(byte)
        return (0 ..< 4).allSatisfy { digits[$0] == written[$0] }
    }

    @usableFromInline
    static func show(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }

    @usableFromInline
    func failure(_ problem: String) -> JSONError {
        JSONError(problem, at: p - start, in: UnsafeBufferPointer(start: start, count: end - start))
    }
}
