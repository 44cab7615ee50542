/// A parsed JSON document: its values as nodes in document order over the
/// source text (a "tape"), rather than a tree of separately allocated values.
///
/// A merge mostly meets values nobody changed, so every node keeps its source
/// text: two values with the same bytes are equal without a walk, and a value
/// already in canonical form is written out by copying its bytes. Numbers are
/// never converted, so `12345678901234567890` and `1.10` stay as written.
///
/// The parser is strict RFC 8259: a duplicate key, a lone surrogate, a raw
/// control character in a string or nesting deeper than `maximumDepth` is an error.
final class JSONTree {
    enum Kind: UInt8 {
        case object, array, string, number, `true`, `false`, null
    }

    struct Node {
        var kind: Kind
        /// Written exactly as the serializer writes it: compact, minimal
        /// escapes, keys in order (and the same holds for everything inside).
        var isCanonical: Bool
        /// Whether a string's contents, or a member's key, had escapes and are
        /// decoded into the tree's side buffer rather than read from the source.
        var isDecoded: Bool
        var keyIsDecoded: Bool
        /// The value's source text, quotes and brackets included.
        var textStart: Int
        var textEnd: Int
        /// A string's contents.
        var contentStart: Int
        var contentEnd: Int
        /// An object member's key contents: members are their value's node.
        var keyStart: Int
        var keyEnd: Int
        /// The elements of an array, the members of an object.
        var count: Int
        /// The node after this value and everything inside it: its next sibling.
        var next: Int
    }

    /// Deeper documents are refused rather than risking the stack on recursion.
    static let maximumDepth = 200

    /// The nodes, the root first; the tree owns this memory and the text's.
    let nodes: UnsafePointer<Node>
    private let source: UnsafeMutablePointer<UInt8>
    private let decoded: UnsafeMutablePointer<UInt8>

    fileprivate init(nodes: UnsafeMutablePointer<Node>, source: UnsafeMutablePointer<UInt8>,
                     decoded: UnsafeMutablePointer<UInt8>) {
        self.nodes = UnsafePointer(nodes)
        self.source = source
        self.decoded = decoded
    }

    deinit {
        nodes.deallocate()
        source.deallocate()
        decoded.deallocate()
    }

    /// The source text of value `i`.
    func text(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: source + nodes[i].textStart, count: nodes[i].textEnd - nodes[i].textStart)
    }

    /// The contents of string `i`, escapes decoded.
    func content(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        let node = nodes[i]
        return UnsafeBufferPointer(start: (node.isDecoded ? decoded : source) + node.contentStart,
                                   count: node.contentEnd - node.contentStart)
    }

    /// The key of object member `i`, escapes decoded.
    func key(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        let node = nodes[i]
        return UnsafeBufferPointer(start: (node.keyIsDecoded ? decoded : source) + node.keyStart,
                                   count: node.keyEnd - node.keyStart)
    }

    /// The elements of array `i` or the members of object `i`, in source order.
    func children(_ i: Int) -> [Int] {
        var children: [Int] = []
        children.reserveCapacity(nodes[i].count)
        var child = i + 1
        for _ in 0 ..< nodes[i].count {
            children.append(child)
            child = nodes[child].next
        }
        return children
    }
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
    static func parse(_ text: String) throws(JSONParseError) -> JSONTree {
        var text = text
        let count = text.utf8.count
        let source = UnsafeMutablePointer<UInt8>.allocate(capacity: max(count, 1))
        text.withUTF8 { bytes in
            if let base = bytes.baseAddress { source.initialize(from: base, count: count) }
        }
        var parser = Parser(source: source, count: count)
        do throws(JSONParseError) {
            try parser.document()
        } catch {
            parser.nodes.deallocate()
            parser.decoded.deallocate()
            source.deallocate()
            throw error
        }
        return JSONTree(nodes: parser.nodes, source: source, decoded: parser.decoded.base)
    }
}

/// Growable bytes over raw memory. Appending to `[UInt8]` is an unspecialized
/// generic call in debug builds, too slow for megabyte documents.
private struct ByteBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    func deallocate() {
        base.deallocate()
    }

    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let start = bytes.baseAddress else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (base + count).initialize(from: start, count: bytes.count)
        count += bytes.count
    }

    private mutating func grow(to needed: Int) {
        capacity = max(capacity * 2, needed)
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        bigger.initialize(from: base, count: count)
        base.deallocate()
        base = bigger
    }
}

/// Byte values the parser and serializer test for.
private enum ASCII {
    static let quote: UInt8 = 0x22, backslash: UInt8 = 0x5C, slash: UInt8 = 0x2F
    static let comma: UInt8 = 0x2C, colon: UInt8 = 0x3A, minus: UInt8 = 0x2D, plus: UInt8 = 0x2B, dot: UInt8 = 0x2E
    static let zero: UInt8 = 0x30
    static let openBrace: UInt8 = 0x7B, closeBrace: UInt8 = 0x7D, openBracket: UInt8 = 0x5B, closeBracket: UInt8 = 0x5D
}

/// A string's contents as parsed: in the source, or decoded into the side buffer.
private struct StringSpan {
    enum Escapes: UInt8 {
        /// The contents are in the source.
        case none
        /// Decoded; the escapes are the ones the serializer writes.
        case canonical
        /// Decoded; the serializer writes the string differently.
        case other
    }

    var start: Int
    var end: Int
    /// One field rather than two flags: a debug build packs two into a register
    /// and reads them back in a way that stalls the CPU on every string.
    var escapes: Escapes

    var isDecoded: Bool { escapes != .none }
    var isCanonical: Bool { escapes != .other }
}

/// Debug builds run this code too, and there every call, local variable and
/// pointer subtraction costs, so the hot paths keep to few of each: positions
/// are offsets, helpers are `mutating` (which passes the parser by reference
/// instead of copying it) and error messages are built out of line.
private struct Parser {
    let bytes: UnsafePointer<UInt8>
    let count: Int
    /// The offset of the next byte to read.
    var i = 0
    var depth = 0
    var nodes: UnsafeMutablePointer<JSONTree.Node>
    var nodeCount = 0
    var nodeCapacity: Int
    /// Contents of strings that had escapes.
    var decoded = ByteBuffer(capacity: 64)

    init(source: UnsafeMutablePointer<UInt8>, count: Int) {
        bytes = UnsafePointer(source)
        self.count = count
        // Compact documents take about a node per ten bytes; the buffer grows if needed.
        nodeCapacity = count / 10 + 16
        nodes = .allocate(capacity: nodeCapacity)
    }

    mutating func document() throws(JSONParseError) {
        var ignored = true
        skipWhitespace(&ignored)
        _ = try value()
        skipWhitespace(&ignored)
        guard i == count else { throw failure("expected end of input after the value") }
    }

    private mutating func failure(_ message: String) -> JSONParseError {
        JSONParseError(offset: i, message: message)
    }

    private mutating func failure(_ message: String, at offset: Int) -> JSONParseError {
        JSONParseError(offset: offset, message: message)
    }

    /// Skips JSON whitespace; clears `canonical` if there was any.
    private mutating func skipWhitespace(_ canonical: inout Bool) {
        while i < count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: // space, tab, line feed, carriage return
                canonical = false
                i += 1
            default:
                return
            }
        }
    }

    /// Skips a run of digits; returns whether there was at least one.
    private mutating func skipDigits() -> Bool {
        let first = i
        while i < count, bytes[i] &- ASCII.zero < 10 { i += 1 }
        return i != first
    }

    /// A node for the value from `textStart` to here.
    private mutating func addNode(_ kind: JSONTree.Kind, textStart: Int) -> Int {
        if nodeCount == nodeCapacity {
            nodeCapacity *= 2
            let bigger = UnsafeMutablePointer<JSONTree.Node>.allocate(capacity: nodeCapacity)
            bigger.moveInitialize(from: nodes, count: nodeCount)
            nodes.deallocate()
            nodes = bigger
        }
        // Field by field: otherwise a debug build makes a whole Node and copies it.
        let node = nodes + nodeCount
        node.pointee.kind = kind
        node.pointee.isCanonical = true
        node.pointee.isDecoded = false
        node.pointee.keyIsDecoded = false
        node.pointee.textStart = textStart
        node.pointee.textEnd = i
        node.pointee.contentStart = 0
        node.pointee.contentEnd = 0
        node.pointee.keyStart = 0
        node.pointee.keyEnd = 0
        node.pointee.count = 0
        node.pointee.next = nodeCount + 1
        nodeCount += 1
        return nodeCount - 1
    }

    private mutating func value() throws(JSONParseError) -> Int {
        guard i < count else { throw failure("expected a value") }
        let textStart = i
        switch bytes[i] {
        case ASCII.openBrace:
            return try container(.object)
        case ASCII.openBracket:
            return try container(.array)
        case ASCII.quote:
            let contents = try string()
            let index = addNode(.string, textStart: textStart)
            nodes[index].isCanonical = contents.isCanonical
            nodes[index].isDecoded = contents.isDecoded
            nodes[index].contentStart = contents.start
            nodes[index].contentEnd = contents.end
            return index
        case ASCII.minus, ASCII.zero ... 0x39:
            try number()
            return addNode(.number, textStart: textStart)
        case 0x74: // t
            try literal("true")
            return addNode(.true, textStart: textStart)
        case 0x66: // f
            try literal("false")
            return addNode(.false, textStart: textStart)
        case 0x6E: // n
            try literal("null")
            return addNode(.null, textStart: textStart)
        default:
            throw failure("expected a value")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let length = word.utf8CodeUnitCount
        guard count - i >= length else { throw failure("expected '\(word)'") }
        for n in 0 ..< length where bytes[i + n] != word.utf8Start[n] {
            throw failure("expected '\(word)'")
        }
        i += length
    }

    /// An object or array from its opening bracket; returns its node, filled in
    /// once the closing bracket is reached.
    private mutating func container(_ kind: JSONTree.Kind) throws(JSONParseError) -> Int {
        depth += 1
        if depth > JSONTree.maximumDepth { throw depthFailure() }
        let index = addNode(kind, textStart: i)
        i += 1
        let isObject = kind == .object
        let close = isObject ? ASCII.closeBrace : ASCII.closeBracket
        var canonical = true
        var members = 0
        var previous = -1
        var previousFirstByte = -1
        // While keys are strictly in canonical order they cannot repeat; only
        // after the first key out of order are keys checked against the others.
        var inOrder = true
        var seen: Set<ExactString>?
        // Whitespace is at most 0x20: testing first spares a call per token in
        // compact text.
        if i < count, bytes[i] <= 0x20 { skipWhitespace(&canonical) }
        if i < count, bytes[i] == close {
            i += 1
        } else {
            while true {
                if i < count, bytes[i] <= 0x20 { skipWhitespace(&canonical) }
                var key = StringSpan(start: 0, end: 0, escapes: .none)
                if isObject {
                    guard i < count, bytes[i] == ASCII.quote else { throw failure("expected a string key") }
                    let keyOffset = i
                    key = try string()
                    canonical = canonical && key.isCanonical
                    let firstByte = key.end == key.start
                        ? -1 : Int((key.isDecoded ? UnsafePointer(decoded.base) : bytes)[key.start])
                    if inOrder, previous >= 0 {
                        // Usually the first bytes decide: when they differ and neither
                        // is a digit (array indices sort apart) nor a lead byte of
                        // U+E000 and above (UTF-16 sorts those after supplementary
                        // characters), byte order is the key order.
                        let decided = firstByte != previousFirstByte
                            && firstByte >= 0 && (firstByte < 0x30 || firstByte > 0x39) && firstByte < 0xEE
                            && previousFirstByte >= 0 && (previousFirstByte < 0x30 || previousFirstByte > 0x39)
                            && previousFirstByte < 0xEE
                        if decided ? firstByte < previousFirstByte
                            : !JSONTree.keyPrecedes(memberKey(previous), text(key)) {
                            inOrder = false
                            canonical = false
                        }
                    }
                    previousFirstByte = firstByte
                    if !inOrder, isDuplicate(key, inObject: index, seen: &seen) {
                        throw duplicateFailure(key, at: keyOffset)
                    }
                    if i < count, bytes[i] <= 0x20 { skipWhitespace(&canonical) }
                    guard i < count, bytes[i] == ASCII.colon else { throw failure("expected ':' after the key") }
                    i += 1
                    if i < count, bytes[i] <= 0x20 { skipWhitespace(&canonical) }
                }
                let element = try value()
                if isObject {
                    nodes[element].keyStart = key.start
                    nodes[element].keyEnd = key.end
                    nodes[element].keyIsDecoded = key.isDecoded
                    previous = element
                }
                canonical = canonical && nodes[element].isCanonical
                members += 1
                if i < count, bytes[i] <= 0x20 { skipWhitespace(&canonical) }
                guard i < count else { throw separatorFailure(isObject) }
                if bytes[i] == close { break }
                guard bytes[i] == ASCII.comma else { throw separatorFailure(isObject) }
                i += 1
            }
            i += 1
        }
        depth -= 1
        nodes[index].textEnd = i
        nodes[index].count = members
        nodes[index].next = nodeCount
        nodes[index].isCanonical = canonical
        return index
    }

    private mutating func depthFailure() -> JSONParseError {
        failure("expected at most \(JSONTree.maximumDepth) levels of nesting")
    }

    private mutating func duplicateFailure(_ key: StringSpan, at offset: Int) -> JSONParseError {
        let name = String(decoding: text(key), as: UTF8.self)
        return failure("expected each key once, found \(JSONTree.quoted(name)) again", at: offset)
    }

    private mutating func separatorFailure(_ isObject: Bool) -> JSONParseError {
        failure(isObject ? "expected ',' or '}' after an object member" : "expected ',' or ']' after an array element")
    }

    /// The decoded contents of a string.
    private mutating func text(_ span: StringSpan) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: (span.isDecoded ? UnsafePointer(decoded.base) : bytes) + span.start,
                            count: span.end - span.start)
    }

    private mutating func memberKey(_ member: Int) -> UnsafeBufferPointer<UInt8> {
        let node = nodes[member]
        return text(StringSpan(start: node.keyStart, end: node.keyEnd, escapes: node.keyIsDecoded ? .other : .none))
    }

    /// Whether `key` repeats a key of the members of `object` read so far: a
    /// scan for small objects, a set once there are many members.
    private mutating func isDuplicate(_ key: StringSpan, inObject object: Int, seen: inout Set<ExactString>?) -> Bool {
        let keyText = text(key)
        if seen != nil {
            return !seen!.insert(ExactString(keyText)).inserted
        }
        var earlier: [Int] = []
        var member = object + 1
        while member < nodeCount {
            earlier.append(member)
            member = nodes[member].next
        }
        if earlier.count < 16 {
            return earlier.contains { bytesEqual(memberKey($0), keyText) }
        }
        seen = Set(earlier.map { ExactString(memberKey($0)) })
        return !seen!.insert(ExactString(keyText)).inserted
    }

    /// Checks a number literal against the RFC 8259 grammar.
    private mutating func number() throws(JSONParseError) {
        if bytes[i] == ASCII.minus { i += 1 }
        guard i < count, bytes[i] &- ASCII.zero < 10 else { throw failure("expected a digit") }
        if bytes[i] == ASCII.zero {
            i += 1
        } else {
            _ = skipDigits()
        }
        if i < count, bytes[i] == ASCII.dot {
            i += 1
            guard skipDigits() else { throw failure("expected a digit after '.'") }
        }
        if i < count, bytes[i] | 0x20 == 0x65 { // e or E
            i += 1
            if i < count, bytes[i] == ASCII.plus || bytes[i] == ASCII.minus { i += 1 }
            guard skipDigits() else { throw failure("expected a digit in the exponent") }
        }
    }

    /// A string from its opening quote. The input came from a `String`, so it
    /// is valid UTF-8; only escapes and control characters need checking.
    private mutating func string() throws(JSONParseError) -> StringSpan {
        i += 1
        let contentStart = i
        // Eight bytes at a time while none is a quote, a backslash or a control
        // character (the usual SWAR tests for a zero byte and a byte below 0x20).
        while count - i >= 8 {
            let v = UnsafeRawPointer(bytes + i).loadUnaligned(fromByteOffset: 0, as: UInt64.self)
            let quote = v ^ 0x2222_2222_2222_2222
            let backslash = v ^ 0x5C5C_5C5C_5C5C_5C5C
            let special = ((quote &- 0x0101_0101_0101_0101) & ~quote)
                | ((backslash &- 0x0101_0101_0101_0101) & ~backslash)
                | ((v &- 0x2020_2020_2020_2020) & ~v)
            if special & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
        // Most strings have no escapes; their contents stay in the source.
        while i < count {
            if bytes[i] == ASCII.quote {
                i += 1
                return StringSpan(start: contentStart, end: i - 1, escapes: .none)
            }
            if bytes[i] == ASCII.backslash || bytes[i] < 0x20 {
                return try escapedString(from: contentStart)
            }
            i += 1
        }
        throw failure("expected '\"' to close the string")
    }

    /// The rest of a string from its first escape (or control character).
    private mutating func escapedString(from contentStart: Int) throws(JSONParseError) -> StringSpan {
        let decodedStart = decoded.count
        decoded.append(UnsafeBufferPointer(start: bytes + contentStart, count: i - contentStart))
        var canonical = true
        while i < count {
            let byte = bytes[i]
            if byte == ASCII.quote {
                i += 1
                return StringSpan(start: decodedStart, end: decoded.count, escapes: canonical ? .canonical : .other)
            }
            if byte == ASCII.backslash {
                canonical = try escape() && canonical
            } else if byte < 0x20 {
                throw failure("expected an escape instead of a raw control character")
            } else {
                decoded.append(byte)
                i += 1
            }
        }
        throw failure("expected '\"' to close the string")
    }

    /// Decodes one escape; returns whether it is the one the serializer writes.
    private mutating func escape() throws(JSONParseError) -> Bool {
        let escapeStart = i
        i += 1
        guard i < count else { throw failure("expected an escape character after '\\'") }
        let letter = bytes[i]
        i += 1
        switch letter {
        case ASCII.quote, ASCII.backslash:
            decoded.append(letter)
            return true
        case ASCII.slash:
            decoded.append(letter)
            return false
        case 0x62: decoded.append(0x08); return true // b
        case 0x66: decoded.append(0x0C); return true // f
        case 0x6E: decoded.append(0x0A); return true // n
        case 0x72: decoded.append(0x0D); return true // r
        case 0x74: decoded.append(0x09); return true // t
        case 0x75: // u
            var scalar = try hex4()
            if scalar >= 0xDC00, scalar <= 0xDFFF {
                throw failure("expected a high surrogate before the low surrogate", at: escapeStart)
            }
            if scalar >= 0xD800, scalar <= 0xDBFF {
                let lowStart = i
                guard count - i >= 2, bytes[i] == ASCII.backslash, bytes[i + 1] == 0x75 else {
                    throw failure("expected a \\uDC00-\\uDFFF low surrogate after the high surrogate")
                }
                i += 2
                let low = try hex4()
                guard low >= 0xDC00, low <= 0xDFFF else {
                    throw failure("expected a \\uDC00-\\uDFFF low surrogate after the high surrogate", at: lowStart)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                appendUTF8(scalar)
                return false
            }
            appendUTF8(scalar)
            // The serializer writes \u00XX, lowercase, for control characters without a short escape.
            let written = UnsafeBufferPointer(start: bytes + i - 4, count: 4)
            return scalar < 0x20 && JSONTree.shortEscape(UInt8(scalar)) == nil
                && bytesEqual(written, JSONTree.hexEscapeDigits(UInt8(scalar)))
        default:
            throw failure("expected one of \" \\ / b f n r t u after '\\'", at: escapeStart)
        }
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard count - i >= 4 else { throw failure("expected four hex digits after '\\u'") }
        var value: UInt32 = 0
        for _ in 0 ..< 4 {
            let byte = bytes[i]
            let digit: UInt8
            switch byte {
            case 0x30 ... 0x39: digit = byte - 0x30 // 0-9
            case 0x61 ... 0x66: digit = byte - 0x61 + 10 // a-f
            case 0x41 ... 0x46: digit = byte - 0x41 + 10 // A-F
            default: throw failure("expected four hex digits after '\\u'")
            }
            value = value << 4 | UInt32(digit)
            i += 1
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case ..<0x80:
            decoded.append(UInt8(scalar))
        case ..<0x800:
            decoded.append(UInt8(0xC0 | scalar >> 6))
            decoded.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            decoded.append(UInt8(0xE0 | scalar >> 12))
            decoded.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            decoded.append(UInt8(0x80 | scalar & 0x3F))
        default:
            decoded.append(UInt8(0xF0 | scalar >> 18))
            decoded.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            decoded.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            decoded.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}

// MARK: - Serializing

extension JSONTree {
    /// The whole document as compact JSON, keys in the order
    /// `JSON.stringify(sortKeysDeep(v))` writes them.
    func serialized() -> String {
        var writer = JSONWriter(capacity: nodes[0].textEnd - nodes[0].textStart)
        writer.write(self, 0)
        return writer.finish()
    }

    /// `text` as a JSON string literal, escaped as the serializer escapes it.
    static func quoted(_ text: String) -> String {
        var text = text
        var writer = JSONWriter(capacity: text.utf8.count + 2)
        text.withUTF8 { writer.writeString($0) }
        return writer.finish()
    }

    /// The letter of the two-character escape for a control character, if it has one.
    static func shortEscape(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x08: 0x62 // b
        case 0x09: 0x74 // t
        case 0x0A: 0x6E // n
        case 0x0C: 0x66 // f
        case 0x0D: 0x72 // r
        default: nil
        }
    }

    /// The four digits of `\u00XX` for a control character, lowercase.
    static func hexEscapeDigits(_ byte: UInt8) -> UnsafeBufferPointer<UInt8> {
        let table: StaticString = """
            0000000100020003000400050006000700080009000a000b000c000d000e000f\
            0010001100120013001400150016001700180019001a001b001c001d001e001f
            """
        return UnsafeBufferPointer(start: table.utf8Start + 4 * Int(byte), count: 4)
    }
}

/// Writes compact JSON. Values of a tree already in canonical form are copied
/// as they are; the rest are written node by node.
struct JSONWriter {
    private var out: ByteBuffer

    init(capacity: Int) {
        out = ByteBuffer(capacity: capacity + 16)
    }

    /// The text written, releasing the buffer.
    func finish() -> String {
        defer { out.deallocate() }
        return String(decoding: UnsafeBufferPointer(start: out.base, count: out.count), as: UTF8.self)
    }

    mutating func append(_ byte: UInt8) {
        out.append(byte)
    }

    /// Value `i` of `tree`.
    mutating func write(_ tree: JSONTree, _ i: Int) {
        let node = tree.nodes[i]
        if node.isCanonical {
            out.append(tree.text(i))
            return
        }
        switch node.kind {
        case .string:
            writeString(tree.content(i))
        case .number, .true, .false, .null:
            out.append(tree.text(i))
        case .array:
            out.append(ASCII.openBracket)
            for (n, element) in tree.children(i).enumerated() {
                if n > 0 { out.append(ASCII.comma) }
                write(tree, element)
            }
            out.append(ASCII.closeBracket)
        case .object:
            let members = tree.children(i)
            writeObject(keys: members.map { tree.key($0) }) { writer, n in
                writer.write(tree, members[n])
            }
        }
    }

    /// An object whose n-th member has key contents `keys[n]` and a value that
    /// `writeValue` writes; members go out in canonical key order.
    mutating func writeObject(keys: [UnsafeBufferPointer<UInt8>], writeValue: (inout JSONWriter, Int) -> Void) {
        var order = Array(keys.indices)
        let sorted = keys.indices.dropFirst().allSatisfy { JSONTree.keyPrecedes(keys[$0 - 1], keys[$0]) }
        if !sorted { order.sort { JSONTree.keyPrecedes(keys[$0], keys[$1]) } }
        out.append(ASCII.openBrace)
        for (n, index) in order.enumerated() {
            if n > 0 { out.append(ASCII.comma) }
            writeString(keys[index])
            out.append(ASCII.colon)
            writeValue(&self, index)
        }
        out.append(ASCII.closeBrace)
    }

    /// A string literal, escaping only what JSON requires: quote, backslash and
    /// control characters. Everything else, "/" and non-ASCII included, is raw.
    mutating func writeString(_ bytes: UnsafeBufferPointer<UInt8>) {
        out.append(ASCII.quote)
        var runStart = 0
        for n in 0 ..< bytes.count {
            let byte = bytes[n]
            guard byte < 0x20 || byte == ASCII.quote || byte == ASCII.backslash else { continue }
            out.append(UnsafeBufferPointer(rebasing: bytes[runStart ..< n]))
            runStart = n + 1
            out.append(ASCII.backslash)
            if let letter = JSONTree.shortEscape(byte) {
                out.append(letter)
            } else if byte == ASCII.quote || byte == ASCII.backslash {
                out.append(byte)
            } else {
                out.append(0x75) // u
                out.append(JSONTree.hexEscapeDigits(byte))
            }
        }
        out.append(UnsafeBufferPointer(rebasing: bytes[runStart...]))
        out.append(ASCII.quote)
    }
}

// MARK: - Key order

extension JSONTree {
    /// The order JavaScript enumerates a plain object's keys in: canonical array
    /// indices first by value, then the rest in insertion order, which
    /// `sortKeysDeep` makes UTF-16 code-unit order.
    static func keyPrecedes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        // Only a key starting with a digit can be an array index.
        let x = a.count > 0 && a.baseAddress!.pointee &- ASCII.zero < 10 ? arrayIndex(a) : nil
        let y = b.count > 0 && b.baseAddress!.pointee &- ASCII.zero < 10 ? arrayIndex(b) : nil
        if let x, let y { return x < y }
        if x != nil || y != nil { return x != nil }
        return utf16Precedes(a, b)
    }

    /// The key's value when it is a canonical array index: "0", or digits
    /// without a leading zero, below 2^32 - 1.
    static func arrayIndex(_ key: UnsafeBufferPointer<UInt8>) -> UInt32? {
        guard key.count >= 1, key.count <= 10, let digits = key.baseAddress else { return nil }
        if key.count > 1, digits[0] == ASCII.zero { return nil }
        var value: UInt64 = 0
        for n in 0 ..< key.count {
            let digit = digits[n] &- ASCII.zero
            guard digit < 10 else { return nil }
            value = value * 10 + UInt64(digit)
        }
        return value < 0xFFFF_FFFF ? UInt32(value) : nil
    }

    /// UTF-16 code-unit order computed on UTF-8: byte order, except that
    /// characters above U+FFFF (surrogates D800-DFFF in UTF-16) come before
    /// U+E000...U+FFFF (lead bytes EE and EF).
    static func utf16Precedes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let common = min(a.count, b.count)
        guard common > 0, let p = a.baseAddress, let q = b.baseAddress else { return a.count < b.count }
        var n = 0
        while n < common, p[n] == q[n] { n += 1 }
        guard n < common else { return a.count < b.count }
        let (x, y) = (p[n], q[n])
        if x >= 0xF0, y == 0xEE || y == 0xEF { return true }
        if y >= 0xF0, x == 0xEE || x == 0xEF { return false }
        return x < y
    }
}

// MARK: - Equality

extension JSONTree: Equatable {
    /// Whole documents, structurally.
    static func == (lhs: JSONTree, rhs: JSONTree) -> Bool {
        lhs.valueEquals(0, rhs, 0)
    }

    /// Structural equality of value `i` here and value `j` of `other`: member
    /// order does not matter; strings and number literals compare byte for
    /// byte. Equal text settles it at once, which is the usual case.
    func valueEquals(_ i: Int, _ other: JSONTree, _ j: Int) -> Bool {
        let a = nodes[i]
        let b = other.nodes[j]
        if bytesEqual(text(i), other.text(j)) { return true }
        guard a.kind == b.kind else { return false }
        switch a.kind {
        case .string:
            return bytesEqual(content(i), other.content(j))
        case .number:
            return false
        case .true, .false, .null:
            return true
        case .array:
            guard a.count == b.count else { return false }
            var x = i + 1
            var y = j + 1
            for _ in 0 ..< a.count {
                guard valueEquals(x, other, y) else { return false }
                x = nodes[x].next
                y = other.nodes[y].next
            }
            return true
        case .object:
            guard a.count == b.count else { return false }
            // Members in the same order are the usual case; a lookup only for the rest.
            var x = i + 1
            var y = j + 1
            var matched = 0
            while matched < a.count, bytesEqual(key(x), other.key(y)) {
                guard valueEquals(x, other, y) else { return false }
                x = nodes[x].next
                y = other.nodes[y].next
                matched += 1
            }
            guard matched < a.count else { return true }
            var rest: [ExactString: Int] = [:]
            for _ in matched ..< b.count {
                rest[ExactString(other.key(y))] = y
                y = other.nodes[y].next
            }
            for _ in matched ..< a.count {
                guard let member = rest[ExactString(key(x))], valueEquals(x, other, member) else { return false }
                x = nodes[x].next
            }
            return true
        }
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

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        text = String(decoding: bytes, as: UTF8.self)
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
    return a.withUTF8 { x in b.withUTF8 { y in bytesEqual(x, y) } }
}

/// Whether two byte ranges hold the same bytes; eight at a time, because whole
/// documents are compared this way.
func bytesEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    guard let p = a.baseAddress, let q = b.baseAddress, p != q else { return true }
    let count = a.count
    var n = 0
    while n + 8 <= count {
        if UnsafeRawPointer(p + n).loadUnaligned(as: UInt64.self)
            != UnsafeRawPointer(q + n).loadUnaligned(as: UInt64.self) { return false }
        n += 8
    }
    while n < count {
        if p[n] != q[n] { return false }
        n += 1
    }
    return true
}
