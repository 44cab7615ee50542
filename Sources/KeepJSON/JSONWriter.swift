/// Writes compact JSON: keys in `JSONKeyOrder`, strings escaped as
/// JSON.stringify escapes them. Values of a tree already in that form are
/// copied as they are; the rest are written node by node.
public struct JSONWriter {
    /// How numbers of a tree are written.
    public enum Numbers: Sendable {
        /// As the text had them (`1.10`, `12345678901234567890`): a merge
        /// does not reformat numbers nobody changed.
        case asWritten
        /// As `json.encode(json.decode(text), {canonical = true})` writes
        /// them: JavaScript's formatting of the value (`1.1`, `12345678901234567000`).
        case javaScript
    }

    private var out: ByteBuffer
    private let numbers: Numbers

    public init(capacity: Int, numbers: Numbers = .asWritten) {
        out = ByteBuffer(capacity: capacity + 16)
        self.numbers = numbers
    }

    /// The text written; releases the buffer (call it once, also after an error).
    public func finish() -> String {
        defer { out.deallocate() }
        return out.text
    }

    public mutating func append(_ byte: UInt8) throws(JSONError) {
        try out.append(byte)
    }

    /// Value `i` of `tree`.
    public mutating func write(_ tree: JSONTree, _ i: Int) throws(JSONError) {
        let node = tree.nodes[i]
        if node.isCanonical && numbers == .asWritten {
            try out.append(tree.text(i))
            return
        }
        switch node.kind {
        case .string:
            try out.appendQuoted(tree.content(i))
        case .number:
            if numbers == .asWritten {
                try out.append(tree.text(i))
            } else {
                try JSNumberFormat.append(JSONNumberToken(literal: tree.text(i)), to: &out)
            }
        case .true, .false, .null:
            try out.append(tree.text(i))
        case .array:
            try out.append(UInt8(ascii: "["))
            for (n, element) in tree.children(i).enumerated() {
                if n > 0 { try out.append(UInt8(ascii: ",")) }
                try write(tree, element)
            }
            try out.append(UInt8(ascii: "]"))
        case .object:
            let members = tree.children(i)
            try writeObject(keys: members.map { tree.key($0) }) { (writer, n) throws(JSONError) in
                try writer.write(tree, members[n])
            }
        }
    }

    /// An object whose n-th member has key contents `keys[n]` and a value that
    /// `writeValue` writes; members go out in key order.
    public mutating func writeObject(keys: [UnsafeBufferPointer<UInt8>],
                                     writeValue: (inout JSONWriter, Int) throws(JSONError) -> Void) throws(JSONError) {
        var order = Array(keys.indices)
        let sorted = keys.indices.dropFirst().allSatisfy { JSONKeyOrder.precedes(keys[$0 - 1], keys[$0]) }
        if !sorted { order.sort { JSONKeyOrder.precedes(keys[$0], keys[$1]) } }
        try out.append(UInt8(ascii: "{"))
        for (n, index) in order.enumerated() {
            if n > 0 { try out.append(UInt8(ascii: ",")) }
            try out.appendQuoted(keys[index])
            try out.append(UInt8(ascii: ":"))
            try writeValue(&self, index)
        }
        try out.append(UInt8(ascii: "}"))
    }
}

extension JSONTree {
    /// The whole document as compact JSON, keys in the order
    /// `JSON.stringify(sortKeysDeep(v))` writes them.
    public func serialized(numbers: JSONWriter.Numbers = .asWritten) throws(JSONError) -> String {
        var writer = JSONWriter(capacity: nodes[0].textEnd - nodes[0].textStart, numbers: numbers)
        do throws(JSONError) {
            try writer.write(self, 0)
        } catch {
            _ = writer.finish()
            throw error
        }
        return writer.finish()
    }

    /// The document in canonical form: exactly what
    /// `json.encode(json.decode(text), {canonical = true})` gives for its text.
    public func canonicalText() throws(JSONError) -> String {
        JSONLayout.indented(try serialized(numbers: .javaScript))
    }

    /// `text` as a JSON string literal, escaped as the writer escapes it.
    public static func quoted(_ text: String) -> String {
        var out = ByteBuffer(capacity: text.utf8.count + 2)
        defer { out.deallocate() }
        // The buffer has no limit: only running out of memory could fail.
        try? out.appendQuoted(text)
        return out.text
    }
}
