import CLuaShim

/// Limits for one call into Lua (SPEC §2 "Sandbox and budgets").
///
/// A budget cannot be escaped by the script: once spent, every further Lua
/// instruction raises again until the call returns, so `pcall` cannot swallow
/// it. Memory counts the whole Lua heap of the state, including garbage not yet
/// collected; time is wall-clock time, checked every 1,000 instructions.
public struct LuaBudget: Sendable, Equatable {
    /// Lua VM instructions; nil means unlimited.
    public var instructions: Int64?
    /// Bytes of Lua heap; nil means unlimited.
    public var memory: Int?
    /// Wall-clock time; nil means unlimited.
    public var time: Duration?
    /// Whether SIGINT (or `LuaState.requestInterrupt()`) stops the call. A
    /// request made before the call began stops it at its first hook run; the
    /// call it stops consumes it (`LuaState.takeInterrupt()` drops a stale one).
    public var interruptible: Bool

    public init(instructions: Int64? = nil, memory: Int? = nil, time: Duration? = nil,
                interruptible: Bool = false) {
        self.instructions = instructions
        self.memory = memory
        self.time = time
        self.interruptible = interruptible
    }

    /// No limits, not interruptible.
    public static let unlimited = LuaBudget()

    /// The defaults for policy functions and migrations: 1,000,000 instructions,
    /// 32 MiB, 100 ms.
    public static let policy = LuaBudget(
        instructions: 1_000_000, memory: 32 << 20, time: .milliseconds(100))
}

/// What a host function may ask about the budget of the call in progress, to
/// keep its own waits inside it (`keep.workbench.wait`).
extension LuaStack {
    /// [-0, +0] When the running call's time budget ends, in nanoseconds of
    /// `LuaBudget.monotonicNow()`; nil when no budgeted call runs or it has no time limit.
    public var budgetDeadline: Int64? {
        guard let budget = keep_budget(L), budget.pointee.active > 0, budget.pointee.deadline_ns > 0 else { return nil }
        return budget.pointee.deadline_ns
    }

    /// [-0, +0] Whether the running call stops for Ctrl-C through its count hook.
    public var isInterruptible: Bool {
        guard let budget = keep_budget(L) else { return false }
        return budget.pointee.active > 0 && budget.pointee.interruptible != 0
    }
}

extension LuaBudget {
    /// The clock time budgets are measured on (CLOCK_MONOTONIC), in nanoseconds.
    public static func monotonicNow() -> Int64 { keep_monotonic_ns() }
}
