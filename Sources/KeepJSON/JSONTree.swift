/// A parsed JSON document: its values as nodes in document order over the
/// source text (a "tape"), rather than a tree of separately allocated values.
///
/// A merge mostly meets values nobody changed, so every node keeps its source
/// text: two values with the same bytes are equal without a walk, and a value
/// already in canonical form is written out by copying its bytes. Numbers are
/// never converted, so `12345678901234567890` and `1.10` stay as written.
///
/// It reads what `json.decode` reads (`JSONParser`), by the same rules: when a
/// key repeats, the last member wins and the earlier ones are shadowed (kept
/// in the tape, skipped by every reader).
public final class JSONTree {
    public enum Kind: UInt8, Sendable {
        case object, array, string, number, `true`, `false`, null
    }

    public struct Node {
        public var kind: Kind
        /// Written exactly as the compact writer writes it: no white space,
        /// minimal escapes, keys in order, no repeated key (and the same holds
        /// for everything inside).
        public var isCanonical: Bool
        /// Whether a string's contents, or a member's key, had escapes and are
        /// decoded into the tree's side buffer rather than read from the source.
        public var isDecoded: Bool
        public var keyIsDecoded: Bool
        /// An object member whose key a later member of the same object repeats.
        public var isShadowed: Bool
        /// The value's source text, quotes and brackets included.
        public var textStart: Int
        public var textEnd: Int
        /// A string's contents.
        public var contentStart: Int
        public var contentEnd: Int
        /// An object member's key contents: members are their value's node.
        public var keyStart: Int
        public var keyEnd: Int
        /// The elements of an array, the members of an object (shadowed ones not counted).
        public var count: Int
        /// The node after this value and everything inside it: its next sibling.
        public var next: Int
    }

    /// The nodes, the root first; the tree owns this memory and the text's.
    public let nodes: UnsafePointer<Node>
    private let source: UnsafeMutablePointer<UInt8>
    private let decoded: ByteBuffer

    fileprivate init(nodes: UnsafeMutablePointer<Node>, source: UnsafeMutablePointer<UInt8>, decoded: ByteBuffer) {
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
    public func text(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: source + nodes[i].textStart, count: nodes[i].textEnd - nodes[i].textStart)
    }

    /// The contents of string `i`, escapes decoded.
    public func content(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        let node = nodes[i]
        return UnsafeBufferPointer(start: (node.isDecoded ? decoded.base : source) + node.contentStart,
                                   count: node.contentEnd - node.contentStart)
    }

    /// The key of object member `i`, escapes decoded.
    public func key(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        let node = nodes[i]
        return UnsafeBufferPointer(start: (node.keyIsDecoded ? decoded.base : source) + node.keyStart,
                                   count: node.keyEnd - node.keyStart)
    }

    /// The first element of array `i` or live member of object `i` (valid when its count is not 0).
    public func firstChild(_ i: Int) -> Int {
        liveFrom(i + 1)
    }

    /// The element or live member after `child`, in the same container.
    public func nextChild(_ child: Int) -> Int {
        liveFrom(nodes[child].next)
    }

    private func liveFrom(_ child: Int) -> Int {
        var child = child
        while nodes[child].isShadowed { child = nodes[child].next }
        return child
    }

    /// The elements of array `i` or the live members of object `i`, in source order.
    public func children(_ i: Int) -> [Int] {
        var children: [Int] = []
        let count = nodes[i].count
        children.reserveCapacity(count)
        guard count > 0 else { return children }
        var child = firstChild(i)
        for n in 0 ..< count {
            children.append(child)
            if n + 1 < count { child = nextChild(child) }
        }
        return children
    }
}

// MARK: - Parsing

extension JSONTree {
    public static func parse(_ text: String) throws(JSONError) -> JSONTree {
        var text = text
        return try text.withUTF8 { bytes in Result { () throws(JSONError) in try parse(bytes) } }.get()
    }

    /// Parses a copy of `text` (the tree keeps it).
    public static func parse(_ text: UnsafeBufferPointer<UInt8>) throws(JSONError) -> JSONTree {
        let count = text.count
        let source = UnsafeMutablePointer<UInt8>.allocate(capacity: max(count, 1))
        if let base = text.baseAddress { source.initialize(from: base, count: count) }
        var builder = TreeBuilder(source: UnsafePointer(source), count: count)
        do throws(JSONError) {
            try JSONParser.parse(UnsafeBufferPointer(start: source, count: count), with: &builder)
        } catch {
            builder.nodes.deallocate()
            builder.decoded.deallocate()
            source.deallocate()
            throw error
        }
        return JSONTree(nodes: builder.nodes, source: source, decoded: builder.decoded)
    }
}

/// Builds the tape as the parser reports tokens. Debug builds run this code
/// too, so the per-token paths keep to few calls and copies.
private struct TreeBuilder: JSONHandler {
    let source: UnsafePointer<UInt8>
    var nodes: UnsafeMutablePointer<JSONTree.Node>
    var nodeCount = 0
    var nodeCapacity: Int
    /// Contents of strings and keys that had escapes.
    var decoded = ByteBuffer(capacity: 64)
    /// The containers being read, innermost last.
    var open: [Container] = []
    /// The node of the value completed last.
    var last = 0

    struct Container {
        var index: Int
        var canonical = true
        var members = 0
        /// The key of the member being read: contents and where they are.
        var keyStart = 0
        var keyEnd = 0
        var keyIsDecoded = false
        /// The last member read so far, or -1.
        var previous = -1
        /// While keys come strictly in order they cannot repeat; only after the
        /// first key out of order are keys checked against the others.
        var inOrder = true
        /// Live members by key, made once there are many members out of order.
        var seen: [ExactString: Int]?
    }

    init(source: UnsafePointer<UInt8>, count: Int) {
        self.source = source
        // Compact documents take about a node per ten bytes; the buffer grows if needed.
        nodeCapacity = count / 10 + 16
        nodes = .allocate(capacity: nodeCapacity)
    }

    /// A node for the value from `textStart` to `textEnd`.
    private mutating func addNode(_ kind: JSONTree.Kind, _ textStart: Int, _ textEnd: Int) -> Int {
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
        node.pointee.isShadowed = false
        node.pointee.textStart = textStart
        node.pointee.textEnd = textEnd
        node.pointee.contentStart = 0
        node.pointee.contentEnd = 0
        node.pointee.keyStart = 0
        node.pointee.keyEnd = 0
        node.pointee.count = 0
        node.pointee.next = nodeCount + 1
        nodeCount += 1
        last = nodeCount - 1
        return last
    }

    /// Where a string's contents are kept: offsets into the source, or (copied) into `decoded`.
    private mutating func keep(_ string: JSONStringToken) throws(JSONError) -> (start: Int, end: Int) {
        guard string.isDecoded else {
            let start = string.bytes.baseAddress.map { $0 - source } ?? 0
            return (start, start + string.bytes.count)
        }
        let start = decoded.count
        try decoded.append(string.bytes)
        return (start, decoded.count)
    }

    private func bytes(_ start: Int, _ end: Int, decoded isDecoded: Bool) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: (isDecoded ? UnsafePointer(decoded.base) : source) + start, count: end - start)
    }

    private func memberKey(_ member: Int) -> UnsafeBufferPointer<UInt8> {
        bytes(nodes[member].keyStart, nodes[member].keyEnd, decoded: nodes[member].keyIsDecoded)
    }

    mutating func beginObject(at offset: Int) throws(JSONError) {
        open.append(Container(index: addNode(.object, offset, offset)))
    }

    mutating func beginArray(at offset: Int) throws(JSONError) {
        open.append(Container(index: addNode(.array, offset, offset)))
    }

    mutating func key(_ key: JSONStringToken, at offset: Int) throws(JSONError) {
        let (start, end) = try keep(key)
        var container = open.removeLast()
        defer { open.append(container) }
        container.keyStart = start
        container.keyEnd = end
        container.keyIsDecoded = key.isDecoded
        if !key.hasOnlyCanonicalEscapes { container.canonical = false }
        let text = bytes(start, end, decoded: key.isDecoded)
        if container.inOrder, container.previous >= 0, !JSONKeyOrder.precedes(memberKey(container.previous), text) {
            container.inOrder = false
            container.canonical = false
        }
        // A repeated key: the member read earlier is shadowed, the last wins.
        if !container.inOrder, let earlier = liveMember(text, of: &container) {
            nodes[earlier].isShadowed = true
            container.members -= 1
        }
    }

    /// The live member of the container with key `text`: a scan for small
    /// objects, a table once there are many members.
    private func liveMember(_ text: UnsafeBufferPointer<UInt8>, of container: inout Container) -> Int? {
        if let seen = container.seen { return seen[ExactString(text)] }
        var live: [Int] = []
        var member = container.index + 1
        while member < nodeCount {
            if !nodes[member].isShadowed { live.append(member) }
            member = nodes[member].next
        }
        if live.count < 16 { return live.first { bytesEqual(memberKey($0), text) } }
        var seen: [ExactString: Int] = [:]
        for member in live { seen[ExactString(memberKey(member))] = member }
        container.seen = seen
        return seen[ExactString(text)]
    }

    mutating func endMember() throws(JSONError) {
        let member = last
        let n = open.count - 1
        nodes[member].keyStart = open[n].keyStart
        nodes[member].keyEnd = open[n].keyEnd
        nodes[member].keyIsDecoded = open[n].keyIsDecoded
        if !nodes[member].isCanonical { open[n].canonical = false }
        open[n].previous = member
        open[n].members += 1
        if open[n].seen != nil { open[n].seen![ExactString(memberKey(member))] = member }
    }

    mutating func endElement(_ index: Int) throws(JSONError) {
        let n = open.count - 1
        if !nodes[last].isCanonical { open[n].canonical = false }
        open[n].members += 1
    }

    mutating func endObject(members: Int, end: Int, hadSpace: Bool) throws(JSONError) {
        close(end: end, hadSpace: hadSpace)
    }

    mutating func endArray(elements: Int, end: Int, hadSpace: Bool) throws(JSONError) {
        close(end: end, hadSpace: hadSpace)
    }

    private mutating func close(end: Int, hadSpace: Bool) {
        let container = open.removeLast()
        let node = nodes + container.index
        node.pointee.textEnd = end
        node.pointee.count = container.members
        node.pointee.next = nodeCount
        node.pointee.isCanonical = container.canonical && !hadSpace
        last = container.index
    }

    mutating func string(_ string: JSONStringToken, from: Int, to: Int) throws(JSONError) {
        let (start, end) = try keep(string)
        let index = addNode(.string, from, to)
        nodes[index].isCanonical = string.hasOnlyCanonicalEscapes
        nodes[index].isDecoded = string.isDecoded
        nodes[index].contentStart = start
        nodes[index].contentEnd = end
    }

    mutating func number(_ number: JSONNumberToken, from: Int, to: Int) throws(JSONError) {
        _ = addNode(.number, from, to)
    }

    mutating func literal(_ literal: JSONLiteral, from: Int, to: Int) throws(JSONError) {
        switch literal {
        case .true: _ = addNode(.true, from, to)
        case .false: _ = addNode(.false, from, to)
        case .null: _ = addNode(.null, from, to)
        }
    }
}

// MARK: - Equality

extension JSONTree: Equatable {
    /// Whole documents, structurally.
    public static func == (lhs: JSONTree, rhs: JSONTree) -> Bool {
        lhs.valueEquals(0, rhs, 0)
    }

    /// Structural equality of value `i` here and value `j` of `other`: member
    /// order does not matter; strings and number literals compare byte for
    /// byte. Equal text settles it at once, which is the usual case.
    public func valueEquals(_ i: Int, _ other: JSONTree, _ j: Int) -> Bool {
        let a = nodes[i]
        let b = other.nodes[j]
        // Two values in canonical form are equal exactly when their texts are:
        // no walk, which keeps comparing deeply nested documents linear.
        if a.isCanonical && b.isCanonical { return bytesEqual(text(i), other.text(j)) }
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
            guard a.count > 0 else { return true }
            var x = i + 1
            var y = j + 1
            for n in 0 ..< a.count {
                guard valueEquals(x, other, y) else { return false }
                if n + 1 < a.count {
                    x = nodes[x].next
                    y = other.nodes[y].next
                }
            }
            return true
        case .object:
            guard a.count == b.count else { return false }
            // Members in the same order are the usual case; a lookup only for the rest.
            let xs = children(i)
            let ys = other.children(j)
            var matched = 0
            while matched < xs.count, bytesEqual(key(xs[matched]), other.key(ys[matched])) {
                guard valueEquals(xs[matched], other, ys[matched]) else { return false }
                matched += 1
            }
            guard matched < xs.count else { return true }
            var rest: [ExactString: Int] = [:]
            for y in ys[matched...] { rest[ExactString(other.key(y))] = y }
            for x in xs[matched...] {
                guard let member = rest[ExactString(key(x))], valueEquals(x, other, member) else { return false }
            }
            return true
        }
    }
}

// MARK: - Exact text comparison

/// A string compared and hashed by its UTF-8 bytes. Swift's `==` on `String`
/// is canonical equivalence, under which two different JSON keys (say a
/// precomposed and a decomposed "é") would be the same.
public struct ExactString: Hashable, Sendable {
    public var text: String

    public init(_ text: String) {
        self.text = text
    }

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        text = String(decoding: bytes, as: UTF8.self)
    }

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool {
        sameBytes(lhs.text, rhs.text)
    }

    public func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Whether two strings have the same UTF-8 bytes.
public func sameBytes(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    var a = a
    var b = b
    return a.withUTF8 { x in b.withUTF8 { y in bytesEqual(x, y) } }
}

/// Whether two byte ranges hold the same bytes; eight at a time, because whole
/// documents are compared this way.
public func bytesEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
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
