import CLua
import CLuaShim
import KeepCore
import Testing
@testable import KeepLua

/// A Swift object whose deinit is counted, to check userdata lifetime.
final class Tracked {
    nonisolated(unsafe) static var deinits = 0
    let label: String
    init(_ label: String) { self.label = label }
    deinit { Tracked.deinits += 1 }
}

@Suite(.serialized) struct LuaBridgeTests {
    @Test func hostFunctionErrorIsCaughtByPcallWithLocation() throws {
        let state = try LuaState()
        state.stack.pushFunction(named: "fail") { _ in
            throw KeepError(.notFound, "session 'x' not found", details: ["id": "x"])
        }
        state.stack.setGlobal("fail")
        let result = try balanced(state) {
            try state.execute("""
                local ok, e = pcall(fail)
                local ok2, e2 = pcall(function()
                  fail()            -- line 3
                end)
                return ok, e.code, e.message, e.details.id, tostring(e), ok2, e2.where
                """, chunkName: "@script.lua")
        }
        #expect(result == [.boolean(false), LuaValue("not_found"), LuaValue("session 'x' not found"),
                           LuaValue("x"), LuaValue("not_found: session 'x' not found"),
                           .boolean(false), LuaValue("script.lua:3: ")])
    }

    @Test func numericDetailsAreNumbersInLuaAndBack() throws {
        let state = try LuaState()
        state.stack.pushFunction(named: "fail") { _ in
            throw KeepError(.conflict, "moved", details: ["id": "12", "version": 4, "ratio": .number(0.5), "retry": true])
        }
        state.stack.setGlobal("fail")
        let result = try balanced(state) {
            try state.execute("""
                local _, e = pcall(fail)
                local d = e.details
                return math.type(d.version), d.version, type(d.id), d.ratio, d.retry
                """)
        }
        #expect(result == [LuaValue("integer"), .integer(4), LuaValue("string"), .number(0.5), .boolean(true)])
        let raised = try #require(throws: LuaError.self) {
            try balanced(state) {
                try state.execute("error({code = 'conflict', message = 'm', details = {version = 5, id = '7'}})")
            }
        }
        #expect(raised.keepError?.details == ["version": .integer(5), "id": .text("7")])
    }

    @Test func uncaughtHostErrorReportsFileLineAndTraceback() throws {
        let state = try LuaState()
        state.stack.pushFunction(named: "fail") { _ in throw KeepError(.conflict, "version moved") }
        state.stack.setGlobal("fail")
        let error = try #require(throws: LuaError.self) {
            try balanced(state) { try state.execute("local x = 1\nfail()\n", chunkName: "@job.lua") }
        }
        #expect(error.keepError == KeepError(.conflict, "version moved"))
        #expect(error.location == "job.lua:2:")
        #expect(error.description == "job.lua:2: conflict: version moved")
        #expect(error.traceback?.contains("job.lua:2: in main chunk") == true)
    }

    @Test func scriptErrorsCarryChunkNameLineAndTraceback() throws {
        let state = try LuaState()
        let error = try #require(throws: LuaError.self) {
            try balanced(state) { try state.execute("\n\nerror('boom')", chunkName: "@policies/validation.lua") }
        }
        #expect(error.kind == .runtime)
        #expect(error.message == "policies/validation.lua:3: boom")
        #expect(error.traceback?.contains("stack traceback:") == true)
        let syntax = try #require(throws: LuaError.self) {
            try balanced(state) { try state.execute("x = = 1", chunkName: "@bad.lua") }
        }
        #expect(syntax.kind == .syntax)
        #expect(syntax.message.hasPrefix("bad.lua:1:"))
    }

    @Test func nestedPcallAcrossLuaSwiftLua() throws {
        let state = try LuaState()
        // callback(f, ...) calls the Lua function f from Swift; its errors come
        // back to Swift as LuaError and are re-raised as Keep errors.
        state.stack.pushFunction(named: "callback") { stack in
            let arguments = stack.top - 1
            do throws(LuaError) {
                try stack.call(arguments: arguments, results: LUA_MULTRET)
            } catch {
                throw KeepError(.policy, "callback failed: \(error.message)")
            }
            return stack.top
        }
        state.stack.setGlobal("callback")
        let result = try balanced(state) {
            try state.execute("""
                local depth = 0
                local function inner(n)
                  depth = depth + 1
                  if n == 0 then error("bottom") end
                  local ok, e = pcall(callback, inner, n - 1)
                  assert(not ok)
                  error(e, 0)
                end
                local ok, e = pcall(inner, 3)
                local fine = callback(function(a, b) return a + b end, 2, 3)
                return depth, e.code, e.message, fine
                """, chunkName: "=nested")
        }
        #expect(result[0] == .integer(4))
        #expect(result[1] == LuaValue("policy"))
        #expect(result[2].text?.contains("nested:4: bottom") == true)
        #expect(result[3] == .integer(5))
    }

    @Test func errorTablesRaisedByScriptsAreKeepErrors() throws {
        let state = try LuaState()
        let error = try #require(throws: LuaError.self) {
            try state.execute("error({code = 'invalid', message = 'title is empty'})")
        }
        #expect(error.keepError == KeepError(.invalid, "title is empty"))
        let odd = try #require(throws: LuaError.self) {
            try state.execute("error(setmetatable({}, {__tostring = function() error('nope') end}))")
        }
        #expect(odd.message.contains("__tostring failed"))
        let number = try #require(throws: LuaError.self) { try state.execute("error(42)") }
        #expect(number.message == "42")
    }

    @Test func userdataIsReleasedAfterCollection() throws {
        let hostClass = LuaHostClass<Tracked>(name: "Tracked") { "Tracked<\($0.label)>" }
        hostClass.property("label", get: { object, stack in stack.push(object.label) })
        hostClass.method("shout") { object, stack in stack.push(object.label.uppercased()); return 1 }
        Tracked.deinits = 0
        do {
            let state = try LuaState()
            try balanced(state) {
                state.stack.push(Tracked("a"), as: hostClass)
                state.stack.setGlobal("a")
                state.stack.push(Tracked("b"), as: hostClass)
                state.stack.setGlobal("b")
            }
            let values = try state.execute("return a.label, b:shout(), tostring(a), a.missing")
            #expect(values == [LuaValue("a"), LuaValue("B"), LuaValue("Tracked<a>"), .nil])
            let setError = try #require(throws: LuaError.self) { try state.execute("a.label = 'x'") }
            #expect(setError.message.contains("cannot set field 'label' of Tracked"))
            let selfError = try #require(throws: LuaError.self) { try state.execute("return a.shout()") }
            #expect(selfError.message.contains("call methods with ':'"))
            #expect(try state.first("return getmetatable(a)") == .boolean(false))
            #expect(Tracked.deinits == 0)
            _ = try state.execute("a = nil; collectgarbage(); collectgarbage()")
            #expect(Tracked.deinits == 1)
        }
        // Closing the state releases the rest.
        #expect(Tracked.deinits == 2)
    }

    @Test func valuesRoundTripExactly() throws {
        let state = try LuaState()
        let values: [LuaValue] = [
            .integer(0), .integer(Int64.max), .integer(Int64.min), .integer(-1),
            .number(1.0), .number(-0.0), .number(0.1), .number(1e308), .number(5e-324),
            .string([0x61, 0x00, 0x62]), .string([0xFF, 0x00]), .string([]),
            .boolean(true), .boolean(false), .nil,
        ]
        for value in values {
            try balanced(state) {
                state.stack.push(value)
                #expect(state.stack.value(at: -1) == value)
                state.stack.pop()
            }
        }
        // Through Lua code as arguments and results, types preserved.
        let echoed = try state.execute("return ...", arguments: values)
        #expect(echoed.count == values.count)
        for (a, b) in zip(echoed, values) { #expect(a == b) }
        let types = try state.execute("local a, b = ... return math.type(a), math.type(b), #select(3, ...)",
                                      arguments: [.integer(3), .number(3), .string([0, 0, 0])])
        #expect(types == [LuaValue("integer"), LuaValue("float"), .integer(3)])
    }

    @Test func manyArgumentsFitTheStack() throws {
        let state = try LuaState()
        let arguments = (0 ..< 5000).map { LuaValue.integer(Int64($0)) }
        #expect(try state.execute("return select('#', ...), select(5000, ...)", arguments: arguments)
            == [.integer(5000), .integer(4999)])
    }

    @Test func stackIsBalancedAfterEveryBridgeCall() throws {
        let state = try LuaState()
        let stack = state.stack
        try balanced(state) {
            stack.newTable()
            stack.push("v")
            stack.setField("k", of: -2)
            #expect(stack.rawField("k", of: -1) == LuaValue("v"))
            #expect(stack.rawField("k", of: 1000) == .nil)
            stack.pushField("k", of: -1)
            stack.pop(2)
            #expect(stack.describe(at: stack.top + 1) == "no value")
            _ = try state.execute("return 1, 2, 3")
            _ = try? state.execute("error('x')")
            _ = try? state.execute("syntax error here")
            _ = try? state.execute("while true do end", budget: LuaBudget(instructions: 10_000))
            stack.push(3)
            stack.pushError(KeepError(.invalid, "x"))
            #expect(stack.keepError(at: -1) == KeepError(.invalid, "x"))
            stack.pop(2)
        }
    }

    @Test func argumentErrorsNameTheFunctionAndWhatWasExpected() throws {
        let state = try LuaState()
        state.stack.pushFunction(named: "get") { stack in
            _ = try stack.checkText(1)
            return 0
        }
        state.stack.setGlobal("get")
        let error = try #require(throws: LuaError.self) { try state.execute("get(nil)") }
        #expect(error.keepError?.message == "bad argument #1 to 'get' (string expected, got nil)")
    }
}

