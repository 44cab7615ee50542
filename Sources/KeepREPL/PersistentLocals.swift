import KeepLua

/// Locals declared at the prompt that stay visible on later lines.
///
/// Lua scopes a `local` to its chunk, and each prompt entry is a chunk, so the
/// standard `lua` prompt forgets `local x = 1` at once. Here every persistent
/// local is a real Lua variable (an upvalue cell) shared by every later chunk:
///
/// 1. Top-level `local` statements are rewritten in place: `local a, b = f()`
///    becomes `      a, b = f()` (`local x` gets ` = nil`), and
///    `local function f` becomes `      function f`. An initializer that
///    mentions a name it declares must see the name's old binding, as in Lua
///    (`local print = function(...) return print("[log]", ...) end`), so
///    `local f = g(f)` becomes
///    `do local f = f local f = g(f) __keep_value1 = f end f = __keep_value1`
///    (a new name's copy falls back to the global). Text is only added
///    within lines, so error lines are the user's.
/// 2. The chunk is compiled inside a wrapper that declares the persistent
///    locals it mentions and the ones it declares, all starting as nil:
///    `local __keep_select = ...; local a, b; return function(...) <chunk>\nend`.
/// 3. Before the chunk runs, each upvalue of the inner function that names a
///    persistent local is joined (`LuaStack.joinUpvalue`) to that local's cell, so
///    closures made on earlier lines and later lines see one variable.
///
/// Limits (docs/repl.md): a re-declared name reuses its variable instead of
/// shadowing it; `<const>` and `<close>` locals stay local to their chunk; a
/// chunk can mention at most about 200 persistent locals.
final class PersistentLocals {
    /// Held so the state outlives the references this object releases.
    private let state: LuaState
    private var stack: LuaStack { state.stack }
    /// Registry reference of a table: name → a function whose upvalue holds the cell.
    private let holders: Int32
    /// The upvalue index of each name's cell in its holder.
    private var cells: [String: Int32] = [:]

    init(state: LuaState) {
        self.state = state
        state.stack.newTable()
        holders = state.stack.popReference()
    }

    deinit { stack.releaseReference(holders) }

    var names: [String] { cells.keys.sorted() }

    /// The wrapper's parameter holding the standard `select`.
    static let selectName = "__keep_select"

    /// The chunk rewritten and wrapped (see the type's comment).
    func wrap(_ source: [UInt8]) -> (source: [UInt8], declared: Set<String>) {
        let scan = ChunkScanner(source)
        var body = source
        var declared = Set<String>()
        var temporaries = 0
        // Edit from the end so earlier offsets stay valid.
        for statement in scan.locals.reversed() {
            declared.formUnion(statement.names)
            if let insertion = statement.missingInitializer {
                body.insert(contentsOf: Array(" = nil".utf8), at: insertion)
            }
            guard let initializer = statement.initializer, !statement.mentioned.isEmpty else {
                body.replaceSubrange(statement.keyword, with: Array("     ".utf8))
                continue
            }
            // The initializer mentions a name it declares, so it must see the
            // old binding: it runs as a real `local` in a block where those
            // names are copies of their old values, then the new values go
            // through temporaries to the persistent variables.
            let values = (1 ... statement.names.count).map { "\(Self.temporaryName)\($0)" }.joined(separator: ", ")
            let names = statement.names.joined(separator: ", ")
            body.insert(contentsOf: Array(" \(values) = \(names) end \(names) = \(values)".utf8), at: initializer.upperBound)
            let copies = statement.mentioned.map { name in
                // A new local's old binding is the global (unless the chunk
                // already assigned the name: see the type's limits).
                cells[name] != nil ? "local \(name) = \(name) "
                    : "local \(name) = \(name) if \(name) == nil then \(name) = _ENV.\(name) end "
            }.joined()
            body.insert(contentsOf: Array("do \(copies)".utf8), at: statement.keyword.lowerBound)
            temporaries = max(temporaries, statement.names.count)
        }
        // Existing locals are joined to their cells; new ones start as nil,
        // without reading the global of that name (which could run an
        // `__index` outside the evaluation's budget).
        let existing = scan.names.filter { cells[$0] != nil }.sorted()
        let fresh = declared.filter { cells[$0] == nil }.sorted()
        var prefix = "local \(Self.selectName) = ...; "
        let unset = existing + fresh + (0 ..< temporaries).map { "\(Self.temporaryName)\($0 + 1)" }
        if !unset.isEmpty { prefix += "local " + unset.joined(separator: ", ") + "; " }
        return (Array((prefix + "return function(...) ").utf8) + body + Array("\nend".utf8), declared)
    }

    /// Prefix of the wrapper's temporaries that carry new values out of the
    /// block where an initializer ran.
    static let temporaryName = "__keep_value"

    /// [-0, +0] Sets the persistent local `name` to the value at `index`;
    /// false when there is no such local.
    @discardableResult
    func assign(_ name: String, valueAt index: Int32) -> Bool {
        guard let cell = cells[name] else { return false }
        let value = stack.absolute(index)
        stack.push(reference: holders)
        stack.pushField(name, of: -1)
        stack.pushCopy(of: value)
        stack.setUpvalue(cell, ofFunctionAt: -2)
        stack.pop(2)
        return true
    }

    /// [-0, +0] Joins the upvalues of the function at `index` that name
    /// persistent locals to their cells, and adopts the cells of the locals
    /// the chunk declares for the first time.
    func bind(functionAt index: Int32, declared: Set<String>) {
        let function = stack.absolute(index)
        stack.push(reference: holders)
        let table = stack.top
        var upvalue: Int32 = 1
        while let name = stack.upvalueName(upvalue, ofFunctionAt: function) {
            if let cell = cells[name] {
                stack.pushField(name, of: table)
                stack.joinUpvalue(upvalue, ofFunctionAt: function, to: cell, ofFunctionAt: -1)
                stack.pop()
            } else if declared.contains(name) {
                stack.pushCopy(of: function)
                stack.setField(name, of: table)
                cells[name] = upvalue
            }
            upvalue += 1
        }
        stack.pop()
    }

    /// [-0, +1] Pushes the value of the persistent local `name`; false (and
    /// nothing pushed) when there is none.
    func push(_ name: String) -> Bool {
        guard let cell = cells[name] else { return false }
        stack.push(reference: holders)
        stack.pushField(name, of: -1)
        if !stack.pushUpvalue(cell, ofFunctionAt: -1) { stack.pushNil() }
        stack.insert(at: -3)
        stack.pop(2)
        return true
    }
}
