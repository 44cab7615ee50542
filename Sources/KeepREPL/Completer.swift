import KeepLua

/// Tab completion: globals and persistent locals, table fields (following
/// `__index` tables), and host object members (`s:da` → `s:data(`).
///
/// Values are read with raw accessors only: completing never runs Lua code.
public struct Completer {
    let evaluator: ReplEvaluator

    public init(evaluator: ReplEvaluator) { self.evaluator = evaluator }

    /// What completing `line` (the text before the cursor) can insert.
    public struct Completion: Equatable {
        /// The part of the word already typed.
        public var prefix: String
        /// Whole words that match, sorted (for `s:da`: `data(`).
        public var candidates: [String]

        /// What to insert after the cursor: the rest of the single candidate,
        /// or the common part of all of them.
        public var insertion: String {
            guard let first = candidates.first else { return "" }
            var common = Substring(first)
            for candidate in candidates.dropFirst() {
                common = common.prefix(zip(common, candidate).prefix { $0 == $1 }.count)
            }
            return String(common.dropFirst(prefix.count))
        }
    }

    public func complete(_ line: String) -> Completion {
        // The expression at the end of the line: names joined by '.' and ':'.
        let word = line.reversed().prefix { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" || $0 == "." || $0 == ":" }
        let expression = String(word.reversed())
        guard !expression.hasPrefix("."), !expression.hasPrefix(":"), !(expression.first?.isNumber ?? false) else {
            return Completion(prefix: "", candidates: [])
        }
        let separatorIndex = expression.lastIndex { $0 == "." || $0 == ":" }
        let prefix = String(separatorIndex.map { expression[expression.index(after: $0)...] } ?? Substring(expression))
        let stack = evaluator.state.stack
        let base = stack.top
        defer { stack.setTop(base) }

        var names: Set<String>
        var methodsOnly = false
        if let separatorIndex {
            let path = expression[..<separatorIndex].split(separator: ".", omittingEmptySubsequences: false)
            guard path.allSatisfy({ !$0.isEmpty && !$0.contains(":") }), push(path: path.map(String.init)) else {
                return Completion(prefix: prefix, candidates: [])
            }
            methodsOnly = expression[separatorIndex] == ":"
            names = members(ofValueAt: stack.absolute(-1), methodsOnly: methodsOnly)
        } else {
            names = Set(evaluator.localNames).union(ChunkScanner.keywords)
            evaluator.pushEnvironment()
            names.formUnion(members(ofValueAt: stack.absolute(-1), methodsOnly: false))
        }
        // Keywords complete at the start of a name, never as fields.
        let valid = separatorIndex == nil ? ValueFormatter.isNameSyntax : ValueFormatter.isIdentifier
        let candidates = names.filter { $0.hasPrefix(prefix) && valid($0) }.sorted()
        return Completion(prefix: prefix, candidates: methodsOnly ? candidates.map { $0 + "(" } : candidates)
    }

    /// [-0, +1 on success] Pushes the value of `a.b.c`.
    private func push(path: [String]) -> Bool {
        let stack = evaluator.state.stack
        guard evaluator.pushVariable(path[0]) else { return false }
        for field in path.dropFirst() {
            guard stack.type(at: -1) == .table, rawLookup(field) else { return false }
        }
        return true
    }

    /// [-1, +1 on success, -1 on failure] Replaces the table on top with its
    /// field `name`, looking through `__index` tables as indexing would.
    private func rawLookup(_ name: String) -> Bool {
        let stack = evaluator.state.stack
        for _ in 0 ..< 8 {
            if stack.pushField(name, of: -1) != .nil {
                stack.remove(at: -2)
                return true
            }
            stack.pop()
            guard replaceWithIndexTable(stack) else { break }
        }
        stack.pop()
        return false
    }

    /// Field names of a table (and its `__index` chain), or the members a
    /// host object's metatable lists; the string library for strings.
    private func members(ofValueAt index: Int32, methodsOnly: Bool) -> Set<String> {
        let stack = evaluator.state.stack
        var names = Set<String>()
        switch stack.type(at: index) {
        case .table:
            stack.pushCopy(of: index)
            for _ in 0 ..< 8 {
                stack.forEachEntry(of: -1) {
                    if let key = stack.text(at: -2), !methodsOnly || stack.type(at: -1) == .function { names.insert(key) }
                }
                guard replaceWithIndexTable(stack) else { break }
            }
        case .userdata:
            guard stack.pushMetatable(of: index) else { break }
            for list in methodsOnly ? ["__methods"] : ["__methods", "__fields"] where stack.pushField(list, of: -1) == .table {
                stack.forEachEntry(of: -1) {
                    if let key = stack.text(at: -2) { names.insert(key) } else if let key = stack.text(at: -1) { names.insert(key) }
                }
                stack.pop()
            }
        case .string:
            stack.pushGlobals()
            if stack.pushField("string", of: -1) == .table { return members(ofValueAt: stack.absolute(-1), methodsOnly: false) }
        default:
            break
        }
        return names
    }

    /// [-1, +1 on success, -0 on failure] Replaces the table on top with its
    /// metatable's `__index` when that is a table (how indexing goes on);
    /// false, with the table left on top, otherwise.
    private func replaceWithIndexTable(_ stack: LuaStack) -> Bool {
        guard stack.pushMetatable(of: -1) else { return false }
        guard stack.pushField("__index", of: -1) == .table else {
            stack.pop(2)
            return false
        }
        stack.insert(at: -3)
        stack.pop(2)
        return true
    }
}
