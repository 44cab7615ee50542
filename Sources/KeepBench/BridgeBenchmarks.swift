// Micro-benchmarks of the Lua bridge, each next to its C anchor measured in the
// same run. scripts/bench.sh runs this in release mode and prints the table.
import CLua
import CLuaBench
import CLuaShim
import KeepLua

#if canImport(Glibc)
import Glibc
#endif

/// Median of `runs` timings of `body`, in nanoseconds per operation.
func median(runs: Int = 15, operations: Int, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for _ in 0 ..< runs {
        let start = keep_monotonic_ns()
        try body()
        samples.append(Double(keep_monotonic_ns() - start) / Double(operations))
    }
    samples.sort()
    return samples[samples.count / 2]
}

func row(_ name: String, _ keep: Double, _ anchorName: String, _ anchor: Double, target: String) {
    let ratio = keep / anchor
    let line = "| \(name) | \(format(keep)) ns | \(anchorName): \(format(anchor)) ns | \(format(ratio))× | \(target) |"
    print(line)
}

func format(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    return String(rounded)
}

func bridgeBenchmarks() throws {
let calls = 1_000_000
let state = try LuaState()
let stack = state.stack

// Lua → Swift host function vs Lua → C function, same work (return the argument).
stack.pushFunction(named: "identity") { stack in
    stack.push(lua_tointegerx(stack.L, 1, nil))
    return 1
}
stack.setGlobal("swift_identity")
keep_pushcfunction(state.L, keep_bench_identity)
stack.setGlobal("c_identity")
let loop = """
    local f, n = ...
    local g = _G[f]
    for i = 1, n do g(i) end
    """
let hostCall = try median(operations: calls) {
    _ = try state.execute(Array(loop.utf8), chunkName: "=bench", arguments: [LuaValue("swift_identity"), .integer(Int64(calls))])
}
let cCall = try median(operations: calls) {
    _ = try state.execute(Array(loop.utf8), chunkName: "=bench", arguments: [LuaValue("c_identity"), .integer(Int64(calls))])
}
print("| benchmark | keep | anchor | ratio | target |")
print("|---|---|---|---|---|")
row("Lua→Swift host call (loop included)", hostCall, "Lua→C function", cCall, target: "≤ 2×")

// Swift → Lua protected call vs the same call made from C.
_ = try state.execute("function bench_target(x) return x end")
let pcalls = 200_000
lua_getglobal(state.L, "bench_target")
let swiftPcall = try median(operations: pcalls) {
    for i in 0 ..< pcalls {
        lua_pushvalue(state.L, -1)
        stack.push(i)
        try stack.call(arguments: 1, results: 1)
        stack.pop()
    }
}
let cPcall = median(operations: pcalls) {
    _ = keep_bench_pcall_loop(state.L, Int32(pcalls))
}
stack.pop()
row("Swift→Lua protected call", swiftPcall, "C→Lua protected call", cPcall, target: "(informative)")
}
