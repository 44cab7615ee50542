import CLua
import KeepCore
@testable import KeepLua

/// Runs `body` and checks the Lua stack is where it started.
func balanced<T>(_ state: LuaState, _ body: () throws -> T) throws -> T {
    let top = state.stack.top
    let result = try body()
    precondition(state.stack.top == top, "stack moved from \(top) to \(state.stack.top)")
    return result
}

extension LuaState {
    /// Runs code and returns its first result.
    func first(_ code: String, budget: LuaBudget = .unlimited) throws -> LuaValue {
        try execute(code, chunkName: "=test", budget: budget).first ?? .nil
    }
}

/// The folder holding the test fixtures.
let fixturesDirectory: String = {
    let file = #filePath
    let testsDirectory = file.split(separator: "/").dropLast(2).joined(separator: "/")
    return "/" + testsDirectory + "/Fixtures"
}()

/// The package root.
let packageDirectory: String = {
    let file = #filePath
    return "/" + file.split(separator: "/").dropLast(3).joined(separator: "/")
}()
