import ArgumentParser
import KeepLua

/// Limits for trusted code (`keep run`, `keep repl`): none by default, like
/// `lua`, but always interruptible with Ctrl-C (SPEC §2 "Sandbox and budgets").
struct BudgetOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Stop after N Lua instructions.", valueName: "N"))
    var maxInstructions: Int64?

    @Option(help: ArgumentHelp("Stop when the Lua heap exceeds SIZE (bytes, or with KiB, MiB, GiB).",
                               valueName: "SIZE"))
    var maxMemory: String?

    @Option(help: ArgumentHelp("Stop after TIME (e.g. 500ms, 2s, 1m; a bare number is seconds).",
                               valueName: "TIME"))
    var timeout: String?

    func validate() throws {
        if let maxInstructions, maxInstructions <= 0 {
            throw ValidationError("--max-instructions must be a positive number of instructions")
        }
        _ = try budget()
    }

    func budget() throws -> LuaBudget {
        var budget = LuaBudget(instructions: maxInstructions, interruptible: true)
        if let maxMemory {
            guard let bytes = Quantity.bytes(maxMemory), bytes > 0 else {
                throw ValidationError("--max-memory: '\(maxMemory)' is not a size; use bytes or a number with KiB, MiB or GiB (e.g. 64MiB)")
            }
            budget.memory = bytes
        }
        if let timeout {
            guard let duration = Quantity.duration(timeout), duration > .zero else {
                throw ValidationError("--timeout: '\(timeout)' is not a duration; use e.g. 500ms, 2s or 1m")
            }
            budget.time = duration
        }
        return budget
    }
}
