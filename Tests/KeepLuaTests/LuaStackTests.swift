import KeepCore
import Testing
@testable import KeepLua

/// The stack operations host code uses instead of the C API (tables,
/// references, metatables, upvalues): each leaves the stack as its
/// `[-p, +q]` comment says.
@Suite struct LuaStackTests {
    @Test func balancedRecordsAMovedStackAsAFailureOfTheTest() throws {
        let state = try LuaState()
        withKnownIssue {
            try balanced(state) { state.stack.pushNil() }
        }
        #expect(state.stack.top == 0)
    }

    @Test func entriesAreWalkedAndTheWalkCanStopOrThrow() throws {
        let state = try LuaState()
        let stack = state.stack
        _ = try state.execute("t = {10, 20, x = 'y'}")
        stack.pushGlobals()
        stack.pushField("t", of: -1)
        let table = stack.top
        var seen: [LuaValue] = []
        try balanced(state) {
            stack.forEachEntry(of: table) { seen.append(stack.value(at: -1)) }
        }
        #expect(Set(seen.map { "\($0)" }).count == 3)
        var visited = 0
        try balanced(state) {
            stack.walkEntries(of: table) {
                visited += 1
                return false
            }
        }
        #expect(visited == 1)
        try balanced(state) {
            #expect(throws: KeepError.self) {
                try stack.forEachEntry(of: table) { () throws(KeepError) in throw KeepError(.invalid, "stop") }
            }
        }
        #expect(stack.isEmptyTable(table) == false)
        stack.newTable()
        #expect(stack.isEmptyTable(-1))
        stack.setTop(0)
    }

    @Test func referencesKeepValuesUntilReleased() throws {
        let state = try LuaState()
        let stack = state.stack
        let reference = try balanced(state) { () -> Int32 in
            stack.push("kept")
            return stack.popReference()
        }
        try balanced(state) {
            #expect(stack.push(reference: reference) == .string)
            #expect(stack.text(at: -1) == "kept")
            stack.pop()
            stack.releaseReference(reference)
            stack.releaseReference(LuaStack.noReference)
        }
    }

    @Test func upvaluesAreReadSetAndJoined() throws {
        let state = try LuaState()
        let stack = state.stack
        _ = try state.execute("""
            local a, b = 1, 2
            f = function() return a end
            g = function() b = b + 1; return b end
            """)
        stack.pushGlobals()
        stack.pushField("f", of: -1)
        stack.pushField("g", of: -2)
        let (f, g) = (stack.top - 1, stack.top)
        try balanced(state) {
            #expect(stack.upvalueName(1, ofFunctionAt: f) == "a")
            #expect(stack.upvalueName(2, ofFunctionAt: f) == nil)
            stack.push(Int64(41))
            #expect(stack.setUpvalue(1, ofFunctionAt: f))
            #expect(stack.pushUpvalue(1, ofFunctionAt: f))
            #expect(stack.value(at: -1) == .integer(41))
            stack.pop()
            // f's `a` becomes g's `b`: g's increments show through f.
            stack.joinUpvalue(1, ofFunctionAt: f, to: 1, ofFunctionAt: g)
        }
        _ = try state.execute("g()")
        #expect(try state.execute("return f()").first == .integer(3))
        stack.setTop(0)
    }

    @Test func metatablesAndMovesStayRaw() throws {
        let state = try LuaState()
        let stack = state.stack
        _ = try state.execute("t = setmetatable({}, {__tostring = function() return 'T' end, __index = {k = 1}})")
        stack.pushGlobals()
        stack.pushField("t", of: -1)
        try balanced(state) {
            #expect(stack.hasMetatable(-1))
            #expect(stack.metafield("__tostring", of: -1) == .opaque("function"))
            #expect(stack.rawField("k", of: -1) == .nil)
            #expect(stack.pushToString(of: -1))
            #expect(stack.text(at: -1) == "T")
            stack.pop()
            stack.push(Int64(1))
            stack.push(Int64(2))
            stack.insert(at: -2)
            #expect(stack.value(at: -1) == .integer(1))
            stack.remove(at: -2)
            #expect(stack.value(at: -1) == .integer(1))
            stack.pop()
        }
        stack.setTop(0)
    }
}
