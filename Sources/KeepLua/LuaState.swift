import CLua
import CLuaShim
import KeepCore

/// How much a state trusts the code it runs (SPEC §2 "Sandbox and budgets").
public enum LuaTrust: Sendable, Equatable {
    /// Lua's full standard library, like the `lua` interpreter (`keep run`, the REPL).
    case trusted
    /// Scripts see an allow-listed environment, a fresh one per chunk; `require`
    /// loads only `.lua` files below `roots`.
    case sandboxed(roots: [String])
}

/// The one owner of a `lua_State`.
///
/// Not `Sendable`: a state is used by one thread at a time, and the compiler
/// keeps each instance inside one isolation domain. Every Lua error raised
/// while it runs is caught by a protected call made in C (see
/// `docs/lua-bridge.md`); nothing unwinds through Swift.
public final class LuaState {
    /// The raw state: only KeepLua (and the package's benchmarks and tests)
    /// touch the C API.
    package let L: OpaquePointer
    public let trust: LuaTrust
    let budget: UnsafeMutablePointer<KeepBudget>
    /// Registry reference of the sandbox's environment factory.
    private var environmentFactory: Int32 = LUA_NOREF

    /// A view of this state's stack.
    public var stack: LuaStack { LuaStack(L) }

    public init(trust: LuaTrust = .trusted) throws(KeepError) {
        _ = hostCallbacksInstalled
        let budget = UnsafeMutablePointer<KeepBudget>.allocate(capacity: 1)
        guard let L = keep_newstate(budget) else {
            budget.deallocate()
            throw KeepError(.internal, "cannot create a Lua state: out of memory")
        }
        self.L = L
        self.budget = budget
        self.trust = trust
        luaL_openlibs(L)
        keep_open_bounded_patterns(L)
        keep_open_budgeted_xpcall(L)
        keep_open_tracked_coroutines(L)
        keep_open_charged_library(L)
        keep_open_budgeted_load(L)
        stack.installErrorMetatable()
        JSONLibrary.open(in: stack)
        stack.setGlobal("json")
        if case .sandboxed(let roots) = trust {
            try installSandbox(roots: roots)
        } else {
            do {
                _ = try execute(TrustedPrelude.source, chunkName: "=(keep trusted prelude)")
            } catch {
                throw KeepError(.internal, "trusted prelude: \(error.message)")
            }
        }
    }

    deinit {
        lua_close(L)
        budget.deallocate()
    }

    // MARK: Loading and calling

    /// How `load` treats precompiled chunks.
    public enum ChunkMode: String, Sendable {
        /// Source text only (always, in the sandbox).
        case text = "t"
        /// Asked for by callers that would accept binary chunks; Keep still
        /// compiles text only (a damaged binary chunk can crash Lua 5.4.4).
        case textOrBinary = "bt"
    }

    /// [-0, +1] Compiles `source` and pushes it as a function. In a sandboxed
    /// state the function gets a fresh sandbox environment and only text is accepted.
    public func load(_ source: [UInt8], chunkName: String, mode: ChunkMode = .text) throws(LuaError) {
        try compile(source, chunkName: chunkName, mode: isSandboxed ? .text : mode)
        if isSandboxed {
            do {
                try pushSandboxEnvironment()
            } catch {
                stack.pop()  // the compiled chunk
                throw error
            }
            stack.setEnvironment(ofFunctionAt: -2)
        }
    }

    /// [-0, +1] Compiles `source` with the state's globals as its environment,
    /// in pieces charged to the budget of the call in progress, if any, and
    /// refusing code Lua 5.4.4 miscompiles. A syntax error's message is Lua's
    /// own (an incomplete chunk's ends with `<eof>`). Callers that want another
    /// environment set it with `LuaStack.setEnvironment(ofFunctionAt:)`.
    public func compile(_ source: [UInt8], chunkName: String, mode: ChunkMode = .text) throws(LuaError) {
        let status = source.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                keep_load_buffer(L, chars.baseAddress, chars.count, chunkName, mode.rawValue)
            }
        }
        if status == KEEP_LOAD_STOPPED {
            keep_push_trip_error(L, budget)
            let error = stack.keepError(at: -1) ?? KeepError(.limit, "budget exceeded")
            stack.pop()
            throw LuaError(kind: .runtime, message: error.description, keepError: error)
        }
        guard status == LUA_OK else {
            let message = stack.string(at: -1).map { String(decoding: $0, as: UTF8.self) }
                ?? "cannot load \(chunkName)"
            stack.pop()
            throw LuaError(kind: .syntax, message: message)
        }
    }

    /// [-(arguments+1), +results] Calls the function below the arguments in
    /// protected mode. `budget` applies when no budgeted call is running yet;
    /// a nested call (from a host function) runs under the outer budget.
    /// With `results` = `LUA_MULTRET` all results stay on the stack.
    public func call(arguments: Int32, results: Int32, budget limits: LuaBudget = .unlimited) throws(LuaError) {
        let outermost = budget.pointee.active == 0
        if outermost { begin(limits) }
        defer { if outermost { keep_budget_end(budget) } }
        try stack.call(arguments: arguments, results: results)
    }

    /// Loads and runs `source`, returning its results copied out. The budget
    /// covers the compilation too.
    public func execute(_ source: [UInt8], chunkName: String, arguments: [LuaValue] = [],
                        budget limits: LuaBudget = .unlimited, mode: ChunkMode = .text) throws(LuaError) -> [LuaValue] {
        let base = stack.top
        guard lua_checkstack(L, Int32(clamping: arguments.count) + 2) != 0 else {
            throw LuaError(kind: .runtime, message: "too many arguments (\(arguments.count)) for the Lua stack")
        }
        let outermost = budget.pointee.active == 0
        if outermost { begin(limits) }
        defer { if outermost { keep_budget_end(budget) } }
        try load(source, chunkName: chunkName, mode: mode)
        for argument in arguments { stack.push(argument) }
        try call(arguments: Int32(arguments.count), results: LUA_MULTRET)
        let values = (base + 1 ..< stack.top + 1).map { stack.value(at: $0) }
        stack.setTop(base)
        return values
    }

    /// Convenience for text.
    public func execute(_ source: String, chunkName: String = "=(code)", arguments: [LuaValue] = [],
                        budget: LuaBudget = .unlimited) throws(LuaError) -> [LuaValue] {
        try execute(Array(source.utf8), chunkName: chunkName, arguments: arguments, budget: budget)
    }

    /// [-0, +1] Pushes the environment (`_ENV`) of the Lua function at `index`:
    /// the global table in a trusted state, the chunk's own sandbox otherwise.
    public func pushEnvironment(ofFunctionAt index: Int32) {
        if lua_getupvalue(L, index, 1) == nil { stack.pushNil() }
    }

    /// The Lua release Keep is built with, e.g. "Lua 5.4.4" (`keep --version`).
    public static var release: String { String(cString: keep_lua_release()) }

    /// Installs the SIGINT handler that interrupts interruptible calls (it
    /// only sets a flag; the count hook raises `interrupted`).
    public static func installInterruptHandler() { keep_install_sigint_handler() }

    /// Restores the default SIGINT behaviour.
    public static func restoreInterruptHandler() { keep_restore_sigint_handler() }

    /// Asks interruptible calls in this process to stop at their next hook run.
    /// Safe from any thread.
    public static func requestInterrupt() { keep_request_interrupt() }

    /// Clears an interrupt request that no call consumed.
    public static func clearInterrupt() { keep_clear_interrupt() }


    /// Clears an interrupt request no call consumed and tells whether there
    /// was one (a Ctrl-C that came while no Lua code ran).
    public static func takeInterrupt() -> Bool { keep_take_interrupt() != 0 }

    /// Bytes currently held by this state's Lua heap.
    public var memoryInUse: Int { Int(budget.pointee.memory_used) }

    /// The largest heap size seen during the last budgeted call.
    public var memoryPeak: Int { Int(budget.pointee.memory_peak) }

    /// Instructions the last budgeted call used (in steps of 1,000).
    public var instructionsUsed: Int64 { budget.pointee.instructions_used }

    var isSandboxed: Bool {
        if case .sandboxed = trust { return true }
        return false
    }

    private func begin(_ limits: LuaBudget) {
        let b = budget
        b.pointee.instruction_limit = limits.instructions ?? 0
        b.pointee.memory_limit = limits.memory.map { max(0, $0) } ?? 0
        if let time = limits.time {
            let (seconds, attoseconds) = time.components
            let nanos = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
            b.pointee.deadline_ns = keep_monotonic_ns() + max(1, nanos)
            b.pointee.time_limit_ms = nanos / 1_000_000
        } else {
            b.pointee.deadline_ns = 0
            b.pointee.time_limit_ms = 0
        }
        // Garbage left by earlier calls must not count against this one.
        if let memory = limits.memory, memoryInUse > memory / 2 { keep_collect_garbage(L) }
        b.pointee.interruptible = limits.interruptible ? 1 : 0
        keep_budget_begin(L, b)
    }

    // MARK: Sandbox

    private func installSandbox(roots: [String]) throws(KeepError) {
        let reader = ModuleReader(roots: roots)
        do {
            try compile(Array(SandboxPrelude.source.utf8), chunkName: "=(keep sandbox)", mode: .text)
        } catch {
            throw KeepError(.internal, "sandbox prelude: \(error.message)")
        }
        stack.pushFunction(named: "require") { stack in try reader.read(stack) }
        do {
            try call(arguments: 1, results: 1)
        } catch {
            throw KeepError(.internal, "sandbox prelude: \(error.message)")
        }
        environmentFactory = luaL_ref(L, keep_registryindex())
    }

    /// [-0, +1] Pushes a fresh sandbox environment (SPEC §2): allow-listed base
    /// functions, copies of the allowed libraries, confined `require`, text-only
    /// `load`. Each chunk gets its own, so no script sees another's globals.
    public func pushSandboxEnvironment() throws(LuaError) {
        guard environmentFactory != LUA_NOREF else {
            throw LuaError(kind: .runtime, message: "this state is not sandboxed")
        }
        lua_rawgeti(L, keep_registryindex(), lua_Integer(environmentFactory))
        try call(arguments: 0, results: 1)
    }
}

// MARK: - The C side's callbacks into Swift

/// Set once, before the first state exists.
private let hostCallbacksInstalled: Void = {
    keep_set_host_callbacks(dispatchHostFunction, releaseHostReference)
}()

/// Runs a host function for the trampoline. Never throws or raises: failure is
/// reported as -1 with the error value pushed.
private func dispatchHostFunction(_ L: OpaquePointer?, _ host: UnsafeMutableRawPointer?) -> Int32 {
    let L = L!
    guard let host else {
        LuaStack(L).pushError(KeepError(.internal, "host function called after it was released"))
        return -1
    }
    let function = Unmanaged<HostFunction>.fromOpaque(host)
    return function._withUnsafeGuaranteedRef { function in
        let stack = LuaStack(L, host: host)
        do {
            let results = try function.body(stack)
            #if DEBUG
            // Lua takes the results from the top; more than the stack holds,
            // or a negative count, would read values the function never pushed.
            assert(results >= 0 && results <= stack.top,
                   "host function '\(function.name)' returned \(results) results with \(stack.top) values on its stack")
            #endif
            return results
        } catch let error as KeepError {
            stack.pushError(error)
        } catch let error as LuaError {
            // An error from Lua code the host function called: pass it on as it was.
            if let keepError = error.keepError { stack.pushError(keepError) } else { stack.push(error.message) }
        } catch {
            stack.pushError(KeepError(.internal, "\(error)"))
        }
        return -1
    }
}

private func releaseHostReference(_ reference: UnsafeMutableRawPointer?) {
    guard let reference else { return }
    Unmanaged<AnyObject>.fromOpaque(reference).release()
}
