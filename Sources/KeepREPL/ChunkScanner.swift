/// What the REPL needs to know about a chunk typed at the prompt, found with a
/// token-level scan (no full parse; the chunk has already compiled, so it is
/// valid Lua).
///
/// - the top-level `local` statements, so `PersistentLocals` can turn them into
///   assignments to variables that outlive the chunk;
/// - the names the chunk may read or write, so only the persistent locals it
///   uses are brought into scope (a Lua function has at most 200 locals).
///
/// Lexical rules follow the Lua 5.4 manual §3.1 (names, long brackets,
/// comments, strings with escapes).
struct ChunkScanner {
    /// A top-level `local` statement that can persist.
    struct LocalStatement: Equatable {
        /// Byte range of the `local` keyword.
        var keyword: Range<Int>
        /// The names it declares.
        var names: [String]
        /// Where to insert ` = nil` when it has no initializer (`local x`).
        var missingInitializer: Int?
        /// Byte range of the expression list after `=`, if any.
        var initializer: Range<Int>? = nil
        /// The declared names the initializer mentions: in Lua it sees their
        /// old binding (`local print = function(...) print(...) end`).
        var mentioned: [String] = []
    }

    private(set) var locals: [LocalStatement] = []
    /// Names used as variables anywhere in the chunk (a superset: table keys
    /// written `{a = 1}` and labels are included, which is harmless).
    private(set) var names: Set<String> = []
    /// Where the last token ends: only spaces and comments follow.
    private(set) var codeEnd = 0

    private enum Kind: Equatable { case name, keyword, symbol, literal }

    private struct Token {
        var kind: Kind
        var text: String
        var range: Range<Int>
    }

    static let keywords: Set<String> = [
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
        "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    ]

    init(_ source: [UInt8]) {
        let tokens = Self.tokenize(source)
        codeEnd = tokens.last?.range.upperBound ?? 0
        var depth = 0
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            switch (token.kind, token.text) {
            case (.keyword, "function"), (.keyword, "do"), (.keyword, "if"), (.keyword, "repeat"):
                depth += 1
            case (.keyword, "end"), (.keyword, "until"):
                depth -= 1
            case (.keyword, "local") where depth == 0:
                if let statement = Self.localStatement(at: index, in: tokens) { locals.append(statement) }
            case (.name, _):
                let previous = index > 0 ? tokens[index - 1] : nil
                if previous?.kind != .symbol || (previous?.text != "." && previous?.text != ":") {
                    names.insert(token.text)
                }
            default:
                break
            }
            index += 1
        }
    }

    /// `local function f` or `local a, b [= …]`; nil for declarations with
    /// attributes (`<const>`, `<close>`), which stay ordinary locals.
    private static func localStatement(at index: Int, in tokens: [Token]) -> LocalStatement? {
        let keyword = tokens[index].range
        var cursor = index + 1
        guard cursor < tokens.count else { return nil }
        if tokens[cursor].kind == .keyword, tokens[cursor].text == "function" {
            guard cursor + 1 < tokens.count, tokens[cursor + 1].kind == .name else { return nil }
            return LocalStatement(keyword: keyword, names: [tokens[cursor + 1].text], missingInitializer: nil)
        }
        var declared: [String] = []
        var end = keyword.upperBound
        while cursor < tokens.count, tokens[cursor].kind == .name {
            declared.append(tokens[cursor].text)
            end = tokens[cursor].range.upperBound
            cursor += 1
            if cursor < tokens.count, tokens[cursor].kind == .symbol, tokens[cursor].text == "<" { return nil }
            guard cursor < tokens.count, tokens[cursor].kind == .symbol, tokens[cursor].text == "," else { break }
            cursor += 1
        }
        guard !declared.isEmpty, !declared.contains("_ENV") else { return nil }
        guard cursor < tokens.count, tokens[cursor].kind == .symbol, tokens[cursor].text == "=", cursor + 1 < tokens.count else {
            return LocalStatement(keyword: keyword, names: declared, missingInitializer: end)
        }
        let first = cursor + 1
        let after = skipExpressionList(tokens, from: first)
        var statement = LocalStatement(keyword: keyword, names: declared, missingInitializer: nil)
        statement.initializer = tokens[first].range.lowerBound ..< tokens[max(first, after - 1)].range.upperBound
        let used = Set(tokens[first ..< max(first, after)].indices.filter { index in
            tokens[index].kind == .name && !(index > 0 && tokens[index - 1].kind == .symbol
                && (tokens[index - 1].text == "." || tokens[index - 1].text == ":"))
        }.map { tokens[$0].text })
        statement.mentioned = declared.filter(used.contains)
        return statement
    }

    // MARK: Expressions

    // The chunk compiled, so a token-level walk finds where an expression
    // list ends: operands with their suffixes (`.x`, `[k]`, `:m(…)`, calls),
    // joined by binary operators, separated by commas.

    private static let binaryOperators: Set<String> = [
        "+", "-", "*", "/", "//", "%", "^", "..", "==", "~=", "<", "<=", ">", ">=", "&", "|", "~", "<<", ">>",
    ]

    /// The index of the token after the expression list starting at `index`.
    private static func skipExpressionList(_ tokens: [Token], from index: Int) -> Int {
        var i = skipExpression(tokens, from: index)
        while i < tokens.count, tokens[i].kind == .symbol, tokens[i].text == "," { i = skipExpression(tokens, from: i + 1) }
        return i
    }

    private static func skipExpression(_ tokens: [Token], from index: Int) -> Int {
        var i = index
        while true {
            while i < tokens.count, (tokens[i].kind == .symbol && ["-", "#", "~"].contains(tokens[i].text))
                || (tokens[i].kind == .keyword && tokens[i].text == "not") {
                i += 1
            }
            guard i < tokens.count else { return i }
            let token = tokens[i]
            switch (token.kind, token.text) {
            case (.keyword, "function"): i = skipBlock(tokens, from: i + 1)
            case (.symbol, "{"): i = skipBrackets(tokens, from: i)
            case (.symbol, "("): i = skipSuffixes(tokens, from: skipBrackets(tokens, from: i))
            case (.name, _): i = skipSuffixes(tokens, from: i + 1)
            default: i += 1  // a literal, nil, true, false, ...
            }
            guard i < tokens.count else { return i }
            let next = tokens[i]
            guard (next.kind == .symbol && binaryOperators.contains(next.text))
                || (next.kind == .keyword && (next.text == "and" || next.text == "or")) else { return i }
            i += 1
        }
    }

    /// Field accesses, method calls and call arguments after an operand.
    private static func skipSuffixes(_ tokens: [Token], from index: Int) -> Int {
        var i = index
        while i < tokens.count {
            let token = tokens[i]
            switch (token.kind, token.text) {
            case (.symbol, "."), (.symbol, ":"): i += 2
            case (.symbol, "["), (.symbol, "("), (.symbol, "{"): i = skipBrackets(tokens, from: i)
            case (.literal, _): i += 1  // a string argument: `f"x"`
            default: return i
            }
        }
        return i
    }

    /// The index after the bracket that closes the one at `index`.
    private static func skipBrackets(_ tokens: [Token], from index: Int) -> Int {
        skipNested(tokens, from: index, depth: 0, kind: .symbol, opening: ["(", "[", "{"], closing: [")", "]", "}"])
    }

    /// The index after the `end` that closes a function body starting at `index`.
    private static func skipBlock(_ tokens: [Token], from index: Int) -> Int {
        skipNested(tokens, from: index, depth: 1, kind: .keyword, opening: ["function", "do", "if", "repeat"],
                   closing: ["end", "until"])
    }

    /// The index after the token that brings `depth` back to zero.
    private static func skipNested(_ tokens: [Token], from index: Int, depth: Int, kind: Kind,
                                   opening: Set<String>, closing: Set<String>) -> Int {
        var depth = depth
        var i = index
        while i < tokens.count {
            if tokens[i].kind == kind {
                if opening.contains(tokens[i].text) { depth += 1 } else if closing.contains(tokens[i].text) { depth -= 1 }
            }
            i += 1
            if depth == 0 { return i }
        }
        return i
    }

    // MARK: Lexer

    private static let longSymbols: [String] = ["...", "..", "==", "~=", "<=", ">=", "//", "::", "<<", ">>"]

    private static func tokenize(_ s: [UInt8]) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        func isNameStart(_ c: UInt8) -> Bool { c == UInt8(ascii: "_") || (c | 0x20 >= 97 && c | 0x20 <= 122) }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        while i < s.count {
            let c = s[i]
            let start = i
            if c == 32 || (c >= 9 && c <= 13) {
                i += 1
            } else if c == UInt8(ascii: "-"), i + 1 < s.count, s[i + 1] == UInt8(ascii: "-") {
                i += 2
                if let end = longBracketEnd(s, from: i) { i = end } else {
                    while i < s.count, s[i] != 10 { i += 1 }
                }
            } else if isNameStart(c) {
                while i < s.count, isNameStart(s[i]) || isDigit(s[i]) { i += 1 }
                let text = String(decoding: s[start ..< i], as: UTF8.self)
                tokens.append(Token(kind: keywords.contains(text) ? .keyword : .name, text: text, range: start ..< i))
            } else if isDigit(c) || (c == UInt8(ascii: ".") && i + 1 < s.count && isDigit(s[i + 1])) {
                // As Lua's `read_numeral`: `e` is a hex digit in `0x…`, whose exponent is `p`.
                var exponent: [UInt8] = [UInt8(ascii: "e"), UInt8(ascii: "E")]
                if c == UInt8(ascii: "0"), i + 1 < s.count, s[i + 1] | 0x20 == UInt8(ascii: "x") {
                    exponent = [UInt8(ascii: "p"), UInt8(ascii: "P")]
                    i += 2
                }
                while i < s.count {
                    let d = s[i]
                    if exponent.contains(d) {
                        i += 1
                        if i < s.count, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") { i += 1 }
                    } else if isDigit(d) || (d | 0x20 >= 97 && d | 0x20 <= 102) || d == UInt8(ascii: ".") {
                        i += 1
                    } else {
                        break
                    }
                }
                tokens.append(Token(kind: .literal, text: "", range: start ..< i))
            } else if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                i += 1
                while i < s.count, s[i] != c, s[i] != 10, s[i] != 13 {
                    guard s[i] == UInt8(ascii: "\\"), i + 1 < s.count else { i += 1; continue }
                    let escaped = s[i + 1]
                    i += 2
                    if escaped == UInt8(ascii: "z") {
                        // `\z` skips the spaces and line breaks that follow.
                        while i < s.count, s[i] == 32 || (s[i] >= 9 && s[i] <= 13) { i += 1 }
                    } else if (escaped == 10 || escaped == 13), i < s.count, s[i] == 23 - escaped {
                        i += 1  // `\` before CR LF (or LF CR) continues the string on the next line
                    }
                }
                i = min(i + 1, s.count)
                tokens.append(Token(kind: .literal, text: "", range: start ..< i))
            } else if c == UInt8(ascii: "["), let end = longBracketEnd(s, from: i) {
                i = end
                tokens.append(Token(kind: .literal, text: "", range: start ..< i))
            } else {
                let symbol = longSymbols.first { symbol in
                    let bytes = Array(symbol.utf8)
                    return i + bytes.count <= s.count && Array(s[i ..< i + bytes.count]) == bytes
                } ?? String(decoding: [c], as: UTF8.self)
                i += symbol.utf8.count
                tokens.append(Token(kind: .symbol, text: symbol, range: start ..< i))
            }
        }
        return tokens
    }

    /// The end of a long bracket (`[[…]]`, `[==[…]==]`) opening at `start`, or
    /// nil when no long bracket opens there.
    private static func longBracketEnd(_ s: [UInt8], from start: Int) -> Int? {
        guard start < s.count, s[start] == UInt8(ascii: "[") else { return nil }
        var level = 0
        var i = start + 1
        while i < s.count, s[i] == UInt8(ascii: "=") { level += 1; i += 1 }
        guard i < s.count, s[i] == UInt8(ascii: "[") else { return nil }
        i += 1
        while i < s.count {
            if s[i] == UInt8(ascii: "]") {
                var j = i + 1
                var closing = 0
                while j < s.count, s[j] == UInt8(ascii: "="), closing < level { closing += 1; j += 1 }
                if closing == level, j < s.count, s[j] == UInt8(ascii: "]") { return j + 1 }
            }
            i += 1
        }
        return s.count
    }
}
