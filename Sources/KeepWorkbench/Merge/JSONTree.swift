/// A JSON value as the three-way merge sees it.
///
/// Numbers keep their literal text, so large integers and decimals such as
/// `1.10` survive a merge byte for byte. Object members keep their order for
/// reporting; the serializer writes them in the order the app's own writer uses.
enum JSONTree: Sendable {
    case object([Member])
    case array([JSONTree])
    case string(String)
    /// The literal as written in the source, e.g. `-0` or `1e400`.
    case number(String)
    case bool(Bool)
    case null

    struct Member: Sendable {
        var key: String
        var value: JSONTree
    }

    /// Deeper documents are refused rather than risking the stack on recursion.
    static let maximumDepth = 200
}

/// Where and why JSON text did not parse.
struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Byte offset into the UTF-8 text.
    var offset: Int
    var message: String

    var description: String { "at byte \(offset): \(message)" }
}

// MARK: - Parsing

extension JSONTree {
    /// Parses `text` strictly per RFC 8259; duplicate keys and lone surrogates are errors.
    static func parse(_ text: String) throws(JSONParseError) -> JSONTree {
        var text = text
        let result = text.withUTF8 { bytes -> Result<JSONTree, JSONParseError> in
            var parser = Parser(bytes: bytes)
            do throws(JSONParseError) {
                return .success(try parser.document())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func document() throws(JSONParseError) -> JSONTree {
        skipWhitespace()
        let tree = try value()
        skipWhitespace()
        guard i == bytes.count else { throw failure("expected end of input after the value") }
        return tree
    }

    private func failure(_ message: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? i, message: message)
    }

    private func peek(_ byte: UInt8) -> Bool {
        i < bytes.count && bytes[i] == byte
    }

    private func peekDigit() -> Bool {
        i < bytes.count && bytes[i] &- UInt8(ascii: "0") < 10
    }

    private mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): i += 1
            default: return
            }
        }
    }

    private mutating func value() throws(JSONParseError) -> JSONTree {
        guard i < bytes.count else { throw failure("expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): return .number(try number())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: throw failure("expected a value")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let start = i
        let count = word.utf8CodeUnitCount
        guard bytes.count - i >= count else { throw failure("expected '\(word)'", at: start) }
        for n in 0 ..< count where bytes[i + n] != word.utf8Start[n] {
            throw failure("expected '\(word)'", at: start)
        }
        i += count
    }

    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        if depth > JSONTree.maximumDepth {
            throw failure("expected at most \(JSONTree.maximumDepth) levels of nesting")
        }
        i += 1
    }

    private mutating func object() throws(JSONParseError) -> JSONTree {
        try enterContainer()
        defer { depth -= 1 }
        var members: [JSONTree.Member] = []
        skipWhitespace()
        if peek(UInt8(ascii: "}")) {
            i += 1
            return .object(members)
        }
        // Small objects check for duplicates by scanning; larger ones switch to a set.
        var seen: Set<ExactString>?
        while true {
            skipWhitespace()
            guard peek(UInt8(ascii: "\"")) else { throw failure("expected a string key") }
            let keyOffset = i
            let key = try string()
            if seen == nil, members.count >= 16 {
                seen = Set(members.map { ExactString($0.key) })
            }
            let duplicate = if seen != nil {
                !seen!.insert(ExactString(key)).inserted
            } else {
                members.contains { sameBytes($0.key, key) }
            }
            if duplicate {
                throw failure("expected each key once, found \(JSONTree.quoted(key)) again", at: keyOffset)
            }
            skipWhitespace()
            guard peek(UInt8(ascii: ":")) else { throw failure("expected ':' after the key") }
            i += 1
            skipWhitespace()
            members.append(JSONTree.Member(key: key, value: try value()))
            skipWhitespace()
            if peek(UInt8(ascii: ",")) {
                i += 1
            } else if peek(UInt8(ascii: "}")) {
                i += 1
                return .object(members)
            } else {
                throw failure("expected ',' or '}' after an object member")
            }
        }
    }

    private mutating func array() throws(JSONParseError) -> JSONTree {
        try enterContainer()
        defer { depth -= 1 }
        var elements: [JSONTree] = []
        skipWhitespace()
        if peek(UInt8(ascii: "]")) {
            i += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value())
            skipWhitespace()
            if peek(UInt8(ascii: ",")) {
                i += 1
            } else if peek(UInt8(ascii: "]")) {
                i += 1
                return .array(elements)
            } else {
                throw failure("expected ',' or ']' after an array element")
            }
        }
    }

    /// The number's literal text, checked against the RFC 8259 grammar.
    private mutating func number() throws(JSONParseError) -> String {
        let start = i
        if peek(UInt8(ascii: "-")) { i += 1 }
        guard peekDigit() else { throw failure("expected a digit") }
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while peekDigit() { i += 1 }
        }
        if peek(UInt8(ascii: ".")) {
            i += 1
            guard peekDigit() else { throw failure("expected a digit after '.'") }
            while peekDigit() { i += 1 }
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            i += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { i += 1 }
            guard peekDigit() else { throw failure("expected a digit in the exponent") }
            while peekDigit() { i += 1 }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start ..< i]), as: UTF8.self)
    }

    /// A string starting at the opening quote. The input is valid UTF-8 (it
    /// came from a `String`), so only escapes and control characters need checks.
    private mutating func string() throws(JSONParseError) -> String {
        i += 1
        let start = i
        // Most strings have no escapes and are taken straight from the input.
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start ..< i]), as: UTF8.self)
                i += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw failure("expected an escape instead of a raw control character") }
            i += 1
        }
        var unescaped = Array(UnsafeBufferPointer(rebasing: bytes[start ..< i]))
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: unescaped, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") {
                try escape(into: &unescaped)
            } else if byte < 0x20 {
                throw failure("expected an escape instead of a raw control character")
            } else {
                unescaped.append(byte)
                i += 1
            }
        }
        throw failure("expected '\"' to close the string")
    }

    private mutating func escape(into out: inout [UInt8]) throws(JSONParseError) {
        let start = i
        i += 1
        guard i < bytes.count else { throw failure("expected an escape character after '\\'") }
        let letter = bytes[i]
        i += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(letter)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if scalar >= 0xDC00, scalar <= 0xDFFF {
                throw failure("expected a high surrogate before the low surrogate", at: start)
            }
            if scalar >= 0xD800, scalar <= 0xDBFF {
                let lowStart = i
                guard peek(UInt8(ascii: "\\")), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "u") else {
                    throw failure("expected a \\uDC00-\\uDFFF low surrogate after the high surrogate")
                }
                i += 2
                let low = try hex4()
                guard low >= 0xDC00, low <= 0xDFFF else {
                    throw failure("expected a \\uDC00-\\uDFFF low surrogate after the high surrogate", at: lowStart)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            appendUTF8(scalar, to: &out)
        default:
            throw failure("expected one of \" \\ / b f n r t u after '\\'", at: start)
        }
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard bytes.count - i >= 4 else { throw failure("expected four hex digits after '\\u'") }
        var value: UInt32 = 0
        for _ in 0 ..< 4 {
            let byte = bytes[i]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("expected four hex digits after '\\u'")
            }
            value = value << 4 | UInt32(digit)
            i += 1
        }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case ..<0x80:
            out.append(UInt8(scalar))
        case ..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}

// MARK: - Serializing

extension JSONTree {
    /// Compact JSON with object keys in the order `JSON.stringify(sortKeysDeep(v))`
    /// writes them, so a merged document reads as if the app had saved it.
    func serialized() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` as a JSON string literal, escaped as the serializer escapes it.
    static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        writeString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let value):
            out.append(contentsOf: value ? "true".utf8 : "false".utf8)
        case .number(let literal):
            out.append(contentsOf: literal.utf8)
        case .string(let text):
            JSONTree.writeString(text, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for n in elements.indices {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                elements[n].write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let ordered = JSONTree.inKeyOrder(members)
            for n in ordered.indices {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                JSONTree.writeString(ordered[n].key, to: &out)
                out.append(UInt8(ascii: ":"))
                ordered[n].value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Escapes only what JSON requires: quote, backslash and control characters.
    private static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var runStart = 0
            for n in 0 ..< bytes.count {
                let byte = bytes[n]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart ..< n]))
                runStart = n + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                            hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Members sorted for output; documents the app saved are already in this
    /// order, so the check comes first and the sort is usually skipped.
    private static func inKeyOrder(_ members: [Member]) -> [Member] {
        var sorted = true
        for n in members.indices.dropFirst() where !keyPrecedes(members[n - 1].key, members[n].key) {
            sorted = false
            break
        }
        return sorted ? members : members.sorted { keyPrecedes($0.key, $1.key) }
    }

    /// The order JavaScript enumerates a plain object's keys in: canonical array
    /// indices first by value, then the rest in insertion order, which
    /// `sortKeysDeep` makes UTF-16 code-unit order.
    static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        switch (arrayIndex(a), arrayIndex(b)) {
        case let (x?, y?): return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return utf16Precedes(a, b)
        }
    }

    /// The key's value when it is a canonical array index: "0" or digits without
    /// a leading zero, below 2^32 - 1.
    static func arrayIndex(_ key: String) -> UInt32? {
        let utf8 = key.utf8
        guard (1 ... 10).contains(utf8.count) else { return nil }
        if utf8.count > 1, utf8.first == UInt8(ascii: "0") { return nil }
        var value: UInt64 = 0
        for byte in utf8 {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + UInt64(digit)
        }
        return value < 0xFFFF_FFFF ? UInt32(value) : nil
    }

    /// UTF-16 code-unit order computed on UTF-8: it equals byte order except that
    /// characters above U+FFFF (surrogates D800-DFFF in UTF-16) sort before
    /// U+E000...U+FFFF (lead bytes EE and EF).
    static func utf16Precedes(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = min(x.count, y.count)
                var n = 0
                while n < common, x[n] == y[n] { n += 1 }
                guard n < common else { return x.count < y.count }
                let (p, q) = (x[n], y[n])
                if p >= 0xF0, q == 0xEE || q == 0xEF { return true }
                if q >= 0xF0, p == 0xEE || p == 0xEF { return false }
                return p < q
            }
        }
    }
}

// MARK: - Equality

extension JSONTree: Equatable {
    /// Structural equality: member order does not matter, strings and number
    /// literals compare byte for byte.
    static func == (lhs: JSONTree, rhs: JSONTree) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return sameBytes(x, y)
        case let (.string(x), .string(y)): return sameBytes(x, y)
        case let (.array(x), .array(y)):
            guard x.count == y.count else { return false }
            for n in x.indices where x[n] != y[n] { return false }
            return true
        case let (.object(x), .object(y)):
            return membersEqual(x, y)
        default:
            return false
        }
    }

    private static func membersEqual(_ x: [Member], _ y: [Member]) -> Bool {
        guard x.count == y.count else { return false }
        // Same key order is the usual case; a lookup table only for the rest.
        var n = 0
        while n < x.count, sameBytes(x[n].key, y[n].key) {
            guard x[n].value == y[n].value else { return false }
            n += 1
        }
        guard n < x.count else { return true }
        var position: [ExactString: Int] = [:]
        for m in n ..< y.count { position[ExactString(y[m].key)] = m }
        for m in n ..< x.count {
            guard let p = position[ExactString(x[m].key)], x[m].value == y[p].value else { return false }
        }
        return true
    }
}

// MARK: - Exact text comparison

/// A string compared and hashed by its UTF-8 bytes. Swift's `==` on `String`
/// is canonical equivalence, under which two different JSON keys (say a
/// precomposed and a decomposed "é") would be the same.
struct ExactString: Hashable, Sendable {
    var text: String

    init(_ text: String) {
        self.text = text
    }

    static func == (lhs: ExactString, rhs: ExactString) -> Bool {
        sameBytes(lhs.text, rhs.text)
    }

    func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Whether two strings have the same UTF-8 bytes.
func sameBytes(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    var a = a
    var b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            guard let p = x.baseAddress, let q = y.baseAddress else { return true }
            if p == q { return true }
            // Eight bytes at a time: this also compares whole megabyte documents.
            var n = 0
            while n + 8 <= x.count {
                let u = UnsafeRawPointer(p + n).loadUnaligned(as: UInt64.self)
                let v = UnsafeRawPointer(q + n).loadUnaligned(as: UInt64.self)
                if u != v { return false }
                n += 8
            }
            while n < x.count {
                if p[n] != q[n] { return false }
                n += 1
            }
            return true
        }
    }
}
