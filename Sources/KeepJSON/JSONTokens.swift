/// Limits every reader and writer of JSON in Keep shares.
public enum JSONLimits {
    /// The deepest nesting of arrays and objects read or written: deeper
    /// documents are refused (a Lua table that contains itself shows up as too
    /// deep), so that no walk over a document can exhaust the stack.
    public static let maximumDepth = 1000
}

/// A string as the parser read it.
public struct JSONStringToken {
    /// The contents, escapes decoded. Unless `isDecoded`, they are the bytes
    /// between the quotes in the text itself; otherwise they are in the
    /// parser's scratch memory, valid until the parser reads the next string.
    public var bytes: UnsafeBufferPointer<UInt8>
    public var isDecoded: Bool
    /// Whether every escape is one JSON.stringify writes, so that the text
    /// between the quotes is already the minimal form.
    public var hasOnlyCanonicalEscapes: Bool

    @inlinable
    init(bytes: UnsafeBufferPointer<UInt8>, isDecoded: Bool, hasOnlyCanonicalEscapes: Bool) {
        self.bytes = bytes
        self.isDecoded = isDecoded
        self.hasOnlyCanonicalEscapes = hasOnlyCanonicalEscapes
    }
}

/// A number literal as the parser read it (RFC 8259 §6 grammar, checked).
public struct JSONNumberToken {
    /// The literal as written.
    public var text: UnsafeBufferPointer<UInt8>
    /// No fraction and no exponent.
    public var isInteger: Bool
    public var isNegative: Bool
    /// The integer digits' value, when `isInteger` and it fit 64 bits (`!overflow`).
    public var magnitude: UInt64
    public var overflow: Bool

    @inlinable
    init(text: UnsafeBufferPointer<UInt8>, isInteger: Bool, isNegative: Bool, magnitude: UInt64, overflow: Bool) {
        self.text = text
        self.isInteger = isInteger
        self.isNegative = isNegative
        self.magnitude = magnitude
        self.overflow = overflow
    }

    /// Reads again a literal the parser accepted (a tree keeps only the text).
    public init(literal text: UnsafeBufferPointer<UInt8>) {
        var magnitude: UInt64 = 0
        var overflow = false
        var isInteger = true
        for byte in text {
            if byte &- 0x30 < 10 {
                if isInteger {
                    let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times10.addingReportingOverflow(UInt64(byte &- 0x30))
                    overflow = overflow || o1 || o2
                    magnitude = sum
                }
            } else if byte != UInt8(ascii: "-") || !isInteger {
                isInteger = false
            }
        }
        self.init(text: text, isInteger: isInteger, isNegative: text.first == UInt8(ascii: "-"),
                  magnitude: magnitude, overflow: overflow)
    }

    /// The value as an integer, by the rule `json.decode` gives Lua: a literal
    /// without fraction or exponent that fits 64 bits, except `-0` (which is the
    /// float -0.0, keeping its sign); nil for everything else, which is a double.
    @inlinable
    public var integerValue: Int64? {
        guard isInteger && !overflow else { return nil }
        if isNegative {
            guard magnitude != 0, magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return Int64(truncatingIfNeeded: 0 &- magnitude)
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// The nearest double (±infinity beyond its range, as strtod gives).
    ///
    /// Most numbers in documents have at most 16 significant digits and a
    /// small exponent: then the digits as an integer (below 2^53) and the power
    /// of ten (at most 10^22) are both exact doubles, and one multiplication or
    /// division rounds correctly (Clinger's fast path). The rest go to Swift's
    /// parser, which is strtod in the C locale (it needs a `String`, which for
    /// more than 15 bytes is an allocation: too slow for every number).
    public var doubleValue: Double {
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var n = isNegative ? 1 : 0
        var inFraction = false
        while n < text.count {
            let byte = text[n]
            if byte == UInt8(ascii: ".") {
                inFraction = true
            } else if byte &- 0x30 < 10 {
                if mantissa != 0 || byte != UInt8(ascii: "0") { digits += 1 }
                if digits > 19 { return Self.parsed(text) }
                mantissa = mantissa &* 10 &+ UInt64(byte &- 0x30)
                if inFraction { exponent -= 1 }
            } else {
                break  // 'e' or 'E'
            }
            n += 1
        }
        if n < text.count {
            n += 1
            var sign = 1
            if text[n] == UInt8(ascii: "-") { sign = -1; n += 1 } else if text[n] == UInt8(ascii: "+") { n += 1 }
            var written = 0
            while n < text.count {
                written = written * 10 + Int(text[n] &- 0x30)
                if written > 400 { return Self.parsed(text) }
                n += 1
            }
            exponent += sign * written
        }
        guard mantissa <= 1 << 53, exponent >= -22, exponent <= 22 else { return Self.parsed(text) }
        let magnitude = exponent < 0 ? Double(mantissa) / exactPowersOfTen[-exponent]
                                     : Double(mantissa) * exactPowersOfTen[exponent]
        return isNegative ? -magnitude : magnitude
    }

    private static func parsed(_ text: UnsafeBufferPointer<UInt8>) -> Double {
        // Every JSON number is valid for Swift's parser.
        Double(String(decoding: text, as: UTF8.self)) ?? .nan
    }
}

public enum JSONLiteral: Sendable {
    case `true`, `false`, null
}

/// What a parse builds: `JSONParser` calls it for each token, in document
/// order. Each value is reported once complete (`string`, `number`,
/// `literal`, or `begin…`/`end…` around a container's contents); an object
/// member's key comes before its value and `endMember` after it, and
/// `endElement` follows each array element. Offsets are bytes into the text.
public protocol JSONHandler {
    mutating func beginObject(at offset: Int) throws(JSONError)
    mutating func key(_ key: JSONStringToken, at offset: Int) throws(JSONError)
    mutating func endMember() throws(JSONError)
    /// `end` is the offset after the closing brace; `hadSpace` tells whether
    /// white space stood anywhere between the braces outside nested values.
    mutating func endObject(members: Int, end: Int, hadSpace: Bool) throws(JSONError)
    mutating func beginArray(at offset: Int) throws(JSONError)
    /// After array element `index` (from 1).
    mutating func endElement(_ index: Int) throws(JSONError)
    mutating func endArray(elements: Int, end: Int, hadSpace: Bool) throws(JSONError)
    mutating func string(_ string: JSONStringToken, from: Int, to: Int) throws(JSONError)
    mutating func number(_ number: JSONNumberToken, from: Int, to: Int) throws(JSONError)
    mutating func literal(_ literal: JSONLiteral, from: Int, to: Int) throws(JSONError)
}

/// 10^0 … 10^22: the powers of ten a double holds exactly.
private let exactPowersOfTen: [Double] = (0 ... 22).map { (0 ..< $0).reduce(1.0) { value, _ in value * 10 } }
