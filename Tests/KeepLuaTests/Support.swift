import CLua
import KeepCore
import Testing
@testable import KeepLua

/// Runs `body` and checks the Lua stack is where it started. A moved stack
/// fails the test that called it (and the stack is put back, so the test's
/// later checks see what they expect), not the whole run.
func balanced<T>(_ state: LuaState, sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws -> T) throws -> T {
    let top = state.stack.top
    let result = try body()
    let moved = state.stack.top
    #expect(moved == top, "stack moved from \(top) to \(moved)", sourceLocation: sourceLocation)
    if moved != top { state.stack.setTop(top) }
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
