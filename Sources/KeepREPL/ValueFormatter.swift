import KeepLua

/// How the REPL shows values: tables nested with sorted keys, cut at a depth
/// and at a number of entries, cycles marked; host objects by their
/// `__tostring` (`Session<Ab3_x9Kq2LmZ "Q3 review" v4>`); pages of a list call
/// as their items and how to fetch the next page.
///
/// ```
/// > t = {1, 2, {3}, name = "x"}; t.me = t; return t
/// <1>{ 1, 2, { 3 }, me = <cycle 1>, name = "x" }
/// ```
///
/// Only raw accessors are used, so no metamethod runs except `__tostring`
/// (run in protected mode by the shim, as `tostring` would).
public struct ValueFormatter {
    /// Tables nested deeper than this show as `{…}`.
    public var maxDepth = 4
    /// Entries shown per table; the rest are counted (`… 900 more`).
    public var maxEntries = 100
    /// Strings inside tables longer than this are cut (top-level strings are shown whole).
    public var maxStringBytes = 200
    /// A table that fits in this many columns stays on one line.
    public var width = 80

    public init() {}

    /// The value at `index` as the REPL prints it. A top-level string prints
    /// as it is, like `print` would; strings inside tables are quoted.
    public func format(at index: Int32, in stack: LuaStack) -> String {
        let index = stack.absolute(index)
        if stack.type(at: index) == .string { return stack.describe(at: index) }
        if let page = page(at: index, in: stack) { return page }
        var walk = Walk(formatter: self, stack: stack)
        return walk.node(at: index, depth: 0).layout(indent: 0, column: 0, width: width)
    }

    // MARK: Pages

    /// `{items = {…}, next_token = "…"}` as returned by `keep.*.list`.
    private func page(at index: Int32, in stack: LuaStack) -> String? {
        guard stack.type(at: index) == .table, !stack.hasMetatable(index) else { return nil }
        var keys: Set<String> = []
        var onlyNames = true
        stack.walkEntries(of: index) {
            guard let key = stack.text(at: -2), keys.count < 2 else {
                onlyNames = false
                return false
            }
            keys.insert(key)
            return true
        }
        guard onlyNames, keys == ["items"] || keys == ["items", "next_token"] else { return nil }
        defer { stack.pop() }
        guard stack.pushField("items", of: index) == .table else { return nil }
        let items = stack.absolute(-1)
        let count = stack.rawLength(of: items)
        let next = stack.rawField("next_token", of: index).text
        var lines: [String] = []
        var kind = "list"
        if count > 0 {
            for position in 1 ... min(count, maxEntries) {
                stack.pushElement(Int64(position), of: items)
                if position == 1 { kind = listCall(forItemAt: -1, in: stack) }
                var walk = Walk(formatter: self, stack: stack)
                let label = "  [\(position)] "
                let item = walk.node(at: stack.absolute(-1), depth: 1)
                lines.append(label + item.layout(indent: 2, column: label.count, width: width))
                stack.pop()
            }
        }
        if count > maxEntries { lines.append("  … \(count - maxEntries) more") }
        let header = "page of \(count) item\(count == 1 ? "" : "s")" + (next == nil ? " (last page)" : "")
        // The page does not know its call's options (filters, sorting,
        // page size), and a token is only valid with the same ones.
        let footer = next.map { _ in ["next page: repeat the \(kind) call with page_token = _.next_token added"] } ?? []
        return ([header] + lines + footer).joined(separator: "\n")
    }

    /// Which call lists items like the one at `index`.
    private func listCall(forItemAt index: Int32, in stack: LuaStack) -> String {
        switch stack.typeName(at: index) {
        case "Session": return "keep.sessions.list"
        case "Snapshot": return "keep.snapshots.list"
        case "table" where stack.rawField("snapshot_id", of: index) != .nil: return "keep.visits.list"
        default: return "list"
        }
    }

    // MARK: Building the tree

    private struct Walk {
        let formatter: ValueFormatter
        let stack: LuaStack
        /// Tables on the path from the root, for cycle marks.
        var ancestors: Set<UnsafeRawPointer> = []
        var labels: [UnsafeRawPointer: Int] = [:]

        mutating func node(at index: Int32, depth: Int) -> Node {
            switch stack.type(at: index) {
            case .string:
                return .atom(quoted(stack.string(at: index) ?? [], limit: formatter.maxStringBytes))
            case .table where !hasToString(index):
                return table(at: index, depth: depth)
            default:
                return .atom(ValueFormatter.describe(at: index, in: stack))
            }
        }

        private func hasToString(_ index: Int32) -> Bool {
            stack.metafield("__tostring", of: index) != .nil
        }

        private mutating func table(at index: Int32, depth: Int) -> Node {
            guard let pointer = stack.identity(at: index) else { return .atom("{}") }
            if ancestors.contains(pointer) {
                let label = labels[pointer] ?? labels.count + 1
                labels[pointer] = label
                return .atom("<cycle \(label)>")
            }
            if stack.isEmptyTable(index) { return .atom("{}") }
            if depth >= formatter.maxDepth { return .atom("{…}") }
            guard (try? stack.reserve(8)) != nil else { return .atom("{…}") }

            ancestors.insert(pointer)
            defer { ancestors.remove(pointer) }
            // The array part 1…n is shown in order without keys.
            var arrayLength: Int64 = 0
            while arrayLength < Int64.max, stack.pushElement(arrayLength + 1, of: index) != .nil {
                stack.pop()
                arrayLength += 1
            }
            stack.pop()
            var entries: [Node.Entry] = []
            let shownArray = min(arrayLength, Int64(formatter.maxEntries))
            for position in 0 ..< shownArray {
                stack.pushElement(position + 1, of: index)
                entries.append(.init(key: nil, value: node(at: stack.absolute(-1), depth: depth + 1)))
                stack.pop()
            }
            // Other keys: sorted, the first ones kept.
            var keys: [Key] = []
            stack.forEachEntry(of: index) {
                let key = Key(at: -2, in: stack)
                if case .integer(let i) = key, i >= 1, i <= arrayLength { return }
                keys.append(key)
            }
            keys.sort()
            let room = max(0, formatter.maxEntries - Int(shownArray))
            let kept = Set(keys.prefix(room))
            var named: [(Key, Node.Entry)] = []
            if !kept.isEmpty {
                stack.forEachEntry(of: index) {
                    let key = Key(at: -2, in: stack)
                    if kept.contains(key) {
                        let value = node(at: stack.absolute(-1), depth: depth + 1)
                        named.append((key, .init(key: key.text(at: -2, in: stack), value: value)))
                    }
                }
            }
            entries += named.sorted { $0.0 < $1.0 }.map(\.1)
            let omitted = Int(arrayLength - shownArray) + keys.count - kept.count
            return .table(label: labels[pointer], entries: entries, omitted: omitted)
        }
    }

    /// A table key, ordered as the REPL sorts them: numbers, then strings,
    /// then booleans, then other values by identity.
    private enum Key: Hashable, Comparable {
        case integer(Int64)
        case float(Double)
        case string([UInt8])
        case boolean(Bool)
        case other(UInt)

        init(at index: Int32, in stack: LuaStack) {
            switch stack.value(at: index) {
            case .integer(let i): self = .integer(i)
            case .number(let d): self = .float(d)
            case .string(let bytes): self = .string(bytes)
            case .boolean(let b): self = .boolean(b)
            case .nil, .opaque: self = .other(UInt(bitPattern: stack.identity(at: index)))
            }
        }

        private var rank: Int {
            switch self {
            case .integer, .float: 0
            case .string: 1
            case .boolean: 2
            case .other: 3
            }
        }

        private var number: Double? {
            switch self {
            case .integer(let i): Double(i)
            case .float(let d): d
            default: nil
            }
        }

        static func < (a: Key, b: Key) -> Bool {
            if a.rank != b.rank { return a.rank < b.rank }
            switch (a, b) {
            case (.string(let x), .string(let y)): return x.lexicographicallyPrecedes(y)
            case (.boolean(let x), .boolean(let y)): return !x && y
            case (.other(let x), .other(let y)): return x < y
            default:
                let (x, y) = (a.number!, b.number!)
                if x != y { return x < y }
                if case .integer = a, case .float = b { return true }
                return false
            }
        }

        /// `name` for identifier-like strings, `[key]` otherwise.
        func text(at index: Int32, in stack: LuaStack) -> String {
            if case .string(let bytes) = self, let name = String(validating: bytes, as: UTF8.self),
               ValueFormatter.isIdentifier(name) {
                return name
            }
            if case .string(let bytes) = self { return "[\(quoted(bytes, limit: 200))]" }
            return "[\(stack.describe(at: index))]"
        }
    }

    /// A value as `tostring` gives it. When its `__tostring` raises, the
    /// value is still a result, not an error: `<table: __tostring failed: …>`
    /// with the error's own message.
    static func describe(at index: Int32, in stack: LuaStack) -> String {
        if let text = stack.string(at: index) { return String(decoding: text, as: UTF8.self) }
        let index = stack.absolute(index)
        let converted = stack.pushToString(of: index)
        defer { stack.pop() }
        if converted, let text = stack.string(at: -1) { return String(decoding: text, as: UTF8.self) }
        return "<\(stack.typeName(at: index)): __tostring failed: \(stack.describe(at: -1))>"
    }

    /// A name Lua accepts as a variable or a `.field` (not a keyword).
    static func isIdentifier(_ text: String) -> Bool { isNameSyntax(text) && !ChunkScanner.keywords.contains(text) }

    /// Letters, digits and `_`, not starting with a digit (keywords included).
    static func isNameSyntax(_ text: String) -> Bool {
        func isLetter(_ c: UInt8) -> Bool { c == UInt8(ascii: "_") || (c | 0x20 >= 97 && c | 0x20 <= 122) }
        guard let first = text.utf8.first, isLetter(first) else { return false }
        return text.utf8.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) }
    }
}

/// A value laid out as text: on one line when it fits, else one entry a line
/// (lists of plain values: as many a line as fit).
private indirect enum Node {
    struct Entry {
        var key: String?
        var value: Node
    }

    case atom(String)
    case table(label: Int?, entries: [Entry], omitted: Int)

    var isAtom: Bool {
        if case .atom = self { return true }
        return false
    }

    /// The one-line form.
    var flat: String {
        switch self {
        case .atom(let text): return text
        case .table(let label, let entries, let omitted):
            var parts = entries.map { entry in entry.key.map { "\($0) = " + entry.value.flat } ?? entry.value.flat }
            if omitted > 0 { parts.append("… \(omitted) more") }
            return (label.map { "<\($0)>" } ?? "") + "{ " + parts.joined(separator: ", ") + " }"
        }
    }

    /// The value starting at `column` on a line indented by `indent`: on that
    /// line when it fits in `width`, else one entry a line, indented a step
    /// further, and the closing brace back at `indent`.
    func layout(indent: Int, column: Int, width: Int) -> String {
        let flat = self.flat
        guard case .table(let label, let entries, let omitted) = self,
              column + flat.count > width || flat.contains("\n")
        else { return flat }
        let inner = indent + 2
        let pad = String(repeating: " ", count: inner)
        if entries.allSatisfy({ $0.key == nil && $0.value.isAtom }) {
            // A list of plain values: as many a line as fit, not a hundred lines of numbers.
            var lines: [String] = []
            var line = ""
            for item in entries.map({ $0.value.flat + "," }) + (omitted > 0 ? ["… \(omitted) more"] : []) {
                if !line.isEmpty && inner + line.count + 1 + item.count > width {
                    lines.append(pad + line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + item
            }
            lines.append(pad + line)
            return (label.map { "<\($0)>" } ?? "") + "{\n" + lines.joined(separator: "\n") + "\n"
                + String(repeating: " ", count: indent) + "}"
        }
        var lines = entries.map { entry in
            let key = entry.key.map { "\($0) = " } ?? ""
            return pad + key + entry.value.layout(indent: inner, column: inner + key.count, width: width) + ","
        }
        if omitted > 0 { lines.append(pad + "… \(omitted) more") }
        return (label.map { "<\($0)>" } ?? "") + "{\n" + lines.joined(separator: "\n") + "\n"
            + String(repeating: " ", count: indent) + "}"
    }
}

/// A Lua string as a double-quoted literal that reads back as the same bytes,
/// cut after `limit` bytes (`"abc…" (5000 bytes)`).
func quoted(_ bytes: [UInt8], limit: Int) -> String {
    var text = "\""
    let shown = bytes.count > limit ? bytes[..<limit] : bytes[...]
    var index = shown.startIndex
    while index < shown.endIndex {
        let byte = shown[index]
        switch byte {
        case UInt8(ascii: "\""): text += "\\\""
        case UInt8(ascii: "\\"): text += "\\\\"
        case 10: text += "\\n"
        case 13: text += "\\r"
        case 9: text += "\\t"
        case 0 ..< 32, 127:
            // Three digits, so a digit that follows is not read as part of the escape.
            let digits = String(byte)
            text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
        case 0x80...:
            // Valid UTF-8 sequences stay readable; stray bytes are escaped.
            let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
            let end = min(index + length, shown.endIndex)
            if length > 1, let character = String(validating: shown[index ..< end], as: UTF8.self) {
                text += character
                index = end
                continue
            }
            text += "\\x" + String(byte, radix: 16, uppercase: true)
        default: text.unicodeScalars.append(Unicode.Scalar(byte))
        }
        index += 1
    }
    text += "\""
    if bytes.count > limit { text += "… (\(bytes.count) bytes)" }
    return text
}
