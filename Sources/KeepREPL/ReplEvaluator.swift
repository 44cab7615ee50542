import KeepCore
import KeepLua

/// Evaluates what is typed at the prompt, as Lua 5.4's own `lua.c` does, with
/// locals that persist (`PersistentLocals`):
///
/// - `return <input>` is tried first, so expressions print their values;
/// - otherwise the input runs as statements;
/// - input that fails to compile with an error at `<eof>` is incomplete: the
///   REPL reads another line and tries again with both.
///
/// The first result of an evaluation is kept in the global `_` (and in a
/// persistent local `_`, if one was declared).
public final class ReplEvaluator {
    public let state: LuaState
    /// Limits of each evaluation (always interruptible by Ctrl-C).
    public var budget: LuaBudget
    public var formatter = ValueFormatter()
    let locals: PersistentLocals
    /// Registry reference of the REPL's environment when sandboxed (one for
    /// the whole session, so globals persist); trusted code uses `_G`.
    private var environment = LuaStack.noReference
    /// Registry reference of the standard `select`, whatever the input does to the global.
    private let select: Int32
    /// Registry reference of a host function that formats its arguments into
    /// `formatted`: values are formatted inside a budgeted call, so Ctrl-C
    /// stops a `__tostring` that never returns.
    private var formatFunction = LuaStack.noReference
    private var formatted: [String] = []

    /// What became of an input.
    public enum Outcome {
        /// More lines are needed.
        case incomplete
        /// It ran; its results as the REPL shows them.
        case values([String])
        case failure(Failure)
    }

    /// An error as the REPL reports it.
    public struct Failure: Error, Sendable {
        /// `stdin:1: message`, or `code: message` for Keep errors and budgets.
        public var message: String
        /// The frames worth showing, innermost first (empty when the error
        /// was raised by the input itself).
        public var traceback: [String]
        /// Ctrl-C stopped it.
        public var interrupted: Bool

        public var text: String {
            traceback.isEmpty ? message : ([message, "stack traceback:"] + traceback.map { "\t" + $0 }).joined(separator: "\n")
        }
    }

    public init(state: LuaState, budget: LuaBudget = LuaBudget(interruptible: true)) throws(LuaError) {
        self.state = state
        self.budget = budget
        locals = PersistentLocals(state: state)
        let stack = state.stack
        stack.pushGlobals()
        stack.pushField("select", of: -1)
        select = stack.popReference()
        stack.pop()
        stack.pushFunction(named: "(REPL printer)") { [weak self] stack in
            guard let self else { return 0 }
            formatted = (0 ..< stack.top).map { formatter.format(at: $0 + 1, in: stack) }
            return 0
        }
        formatFunction = stack.popReference()
        if case .sandboxed = state.trust {
            try state.pushSandboxEnvironment()
            // The sandbox copies the standard library; the keep API is shared.
            stack.pushGlobals()
            stack.pushField("keep", of: -1)
            stack.setField("keep", of: -3)
            stack.pop()
            environment = stack.popReference()
        }
    }

    deinit {
        let stack = state.stack
        stack.releaseReference(environment)
        stack.releaseReference(select)
        stack.releaseReference(formatFunction)
    }

    /// [-0, +1] Pushes the table that holds the REPL's globals.
    public func pushEnvironment() {
        if environment != LuaStack.noReference {
            state.stack.push(reference: environment)
        } else {
            state.stack.pushGlobals()
        }
    }

    /// Names of the locals declared so far at the prompt.
    public var localNames: [String] { locals.names }

    /// [-0, +1 or +0] Pushes the variable `name` as code at the prompt sees it
    /// (a persistent local, else a global); false when it is neither.
    public func pushVariable(_ name: String) -> Bool {
        if locals.push(name) { return true }
        pushEnvironment()
        let type = state.stack.pushField(name, of: -1)
        state.stack.remove(at: -2)
        if type == .nil { state.stack.pop(); return false }
        return true
    }

    /// Evaluates `source` (one or more lines). `chunkName` follows
    /// Lua's convention: `=stdin` gives messages like `stdin:1: …`; `firstLine`
    /// numbers the source's first line (piped input counts from its start).
    public func evaluate(_ source: String, chunkName: String = "=stdin", firstLine: Int = 1) -> Outcome {
        let stack = state.stack
        let base = stack.top
        defer { stack.setTop(base) }
        let input = Self.numbered(source, from: firstLine)
        var body = input
        if let expressionError = compile(Array("return ".utf8) + input, chunkName: chunkName) {
            if let statementError = compile(input, chunkName: chunkName) {
                if statementError.hasSuffix("<eof>") || expressionError.hasSuffix("<eof>") { return .incomplete }
                return .failure(Failure(message: statementError, traceback: [], interrupted: false))
            }
        } else {
            // Passing the values through `select` keeps a call in the
            // expression from being a tail call, which would drop the input's
            // own frame from tracebacks. (Not when the input ends with `;`.)
            // The `)` goes right after the last token, before any comment: on
            // a line of its own it would give `x.y`'s error that line's number.
            let end = ChunkScanner(input).codeEnd
            let passed = Array("return \(PersistentLocals.selectName)(1, ".utf8) + input[..<end] + Array(")".utf8)
                + input[end...]
            stack.setTop(base)
            body = compile(passed, chunkName: chunkName) == nil ? passed : Array("return ".utf8) + input
        }
        stack.setTop(base)

        let (wrapped, declared) = locals.wrap(body)
        if let error = compile(wrapped, chunkName: chunkName) {
            return .failure(Failure(message: error, traceback: [], interrupted: false))
        }
        do {
            stack.push(reference: select)
            try state.call(arguments: 1, results: 1)
            locals.bind(functionAt: -1, declared: declared)
            try state.call(arguments: 0, results: LuaStack.allResults, budget: budget)
        } catch {
            return .failure(Self.failure(from: error))
        }
        let count = stack.top - base
        guard count > 0 else { return .values([]) }
        pushEnvironment()
        stack.pushCopy(of: base + 1)
        stack.setField("_", of: -2)
        stack.pop()
        // A persistent `local _` would hide the global from later inputs.
        locals.assign("_", valueAt: base + 1)
        stack.push(reference: formatFunction)
        stack.insert(at: base + 1)
        formatted = []
        do {
            try state.call(arguments: count, results: 0, budget: budget)
        } catch {
            return .failure(Self.failure(from: error))
        }
        return .values(formatted)
    }

    /// Why `source`, which `evaluate` found incomplete, does not compile.
    public func syntaxError(_ source: String, chunkName: String = "=stdin", firstLine: Int = 1) -> Failure {
        let base = state.stack.top
        defer { state.stack.setTop(base) }
        let message = compile(Self.numbered(source, from: firstLine), chunkName: chunkName) ?? "incomplete input"
        return Failure(message: message, traceback: [], interrupted: false)
    }

    /// The source preceded by blank lines, so its lines get their numbers.
    private static func numbered(_ source: String, from firstLine: Int) -> [UInt8] {
        [UInt8](repeating: 10, count: max(0, firstLine - 1)) + Array(source.utf8)
    }

    /// [-0, +1 on success] Compiles text; returns the error message on failure.
    private func compile(_ source: [UInt8], chunkName: String) -> String? {
        do {
            try state.compile(source, chunkName: chunkName)
        } catch {
            return error.message
        }
        if environment != LuaStack.noReference {
            pushEnvironment()
            state.stack.setEnvironment(ofFunctionAt: -2)
        }
        return nil
    }

    static func failure(from error: LuaError) -> Failure {
        var frames = (error.traceback ?? "").split(separator: "\n").dropFirst()
            .map { $0.trimmingPrefix("\t") }.map(String.init)
        // The REPL's own frames, and the C function that raised (`error`, a
        // `keep.*` function: the message already says where it was called),
        // are noise.
        while frames.last == "[C]: in ?" { frames.removeLast() }
        while let first = frames.first, first.hasPrefix("[C]: in ") { frames.removeFirst() }
        if let last = frames.last, let range = last.range(of: ": in function <"), last.hasSuffix(":1>") {
            frames[frames.count - 1] = last[..<range.lowerBound] + ": in main chunk"
        }
        if frames.count <= 1 { frames = [] }
        if frames.count > 8 { frames = Array(frames.prefix(7)) + ["…"] }
        return Failure(message: error.description, traceback: frames,
                       interrupted: error.keepError?.code == .interrupted)
    }
}
