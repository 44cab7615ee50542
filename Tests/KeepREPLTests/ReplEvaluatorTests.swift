import KeepLua
import Testing
@testable import KeepREPL

@Suite struct ReplEvaluatorTests {
    @Test func expressionsPrintAndStatementsDoNot() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("1 + 1") == "2")
        #expect(repl.show("x = 5") == "")
        #expect(repl.show("x, x * 2") == "5\t10")
        #expect(repl.show("print").hasPrefix("function: "))
        #expect(repl.show("_ == print") == "true")
        #expect(repl.show("x;") == "5")
        #expect(repl.show("x -- a comment") == "5")
        #expect(repl.show("x --[[ a long comment ]]") == "5")
    }

    @Test func localsStayVisibleAndAreOneVariable() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("local n = 1") == "")
        #expect(repl.show("local function bump() n = n + 1 return n end") == "")
        #expect(repl.show("bump()") == "2")
        #expect(repl.show("n = 10") == "")
        #expect(repl.show("bump()") == "11")
        #expect(repl.show("n, rawget(_G, 'n')") == "11\tnil")
        #expect(repl.localNames == ["bump", "n"])
    }

    @Test func localsShadowGlobalsAndKeepLuaSemantics() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("x = 'global'") == "")
        #expect(repl.show("local x = x .. ' then local'") == "")
        #expect(repl.show("x, _G.x") == "global then local\tglobal")
        #expect(repl.show("local a, b, c = (function() return 1, 2, 3 end)()") == "")
        #expect(repl.show("a, b, c") == "1\t2\t3")
        #expect(repl.show("local p, q = 1") == "")
        #expect(repl.show("p, q") == "1\tnil")
        #expect(repl.show("local fact; function fact(k) return k < 2 and 1 or k * fact(k - 1) end") == "")
        #expect(repl.show("fact(5)") == "120")
    }

    @Test func attributedLocalsStayInTheirChunk() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("local k <const> = 3; return k") == "3")
        #expect(repl.show("k") == "nil")
        #expect(repl.show("local k <const> = 3; k = 4").hasPrefix("<error> stdin:1: attempt to assign to const variable 'k'"))
    }

    @Test func manyLocalsDoNotExhaustAFunctionsLimit() throws {
        let repl = try makeEvaluator()
        for index in 0 ..< 300 { #expect(repl.show("local v\(index) = \(index)") == "") }
        #expect(repl.show("v0 + v299") == "299")
    }

    @Test func incompleteInputWaitsForMore() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("for i = 1, 2 do") == "<incomplete>")
        #expect(repl.show("{1,") == "<incomplete>")
        #expect(repl.show("x = [[long") == "<incomplete>")
        #expect(repl.show("{1,\n2}") == "{ 1, 2 }")
        #expect(repl.show("x = = 1") == "<error> stdin:1: unexpected symbol near '='")
        #expect(repl.syntaxError("for i = 1, 2 do", firstLine: 3).message == "stdin:3: 'end' expected near <eof>")
    }

    @Test func errorsCarryLocationAndAShortTraceback() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("error('top')") == "<error> stdin:1: top")
        #expect(repl.show("local function f() error('inner') end\nf()") == """
            <error> stdin:1: inner
            stack traceback:
            \tstdin:1: in upvalue 'f'
            \tstdin:2: in main chunk
            """)
        #expect(repl.show("error({code = 'conflict', message = 'version 3 expected'})") == "<error> conflict: version 3 expected")
        #expect(repl.show("1") == "1")
    }

    @Test func expressionErrorsReportTheInputsLine() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("nothing.field") == "<error> stdin:1: attempt to index a nil value (global 'nothing')")
        #expect(repl.show("nothing.field -- a comment") == "<error> stdin:1: attempt to index a nil value (global 'nothing')")
        #expect(repl.show("1,\nnothing.field") == "<error> stdin:2: attempt to index a nil value (global 'nothing')")
        #expect(repl.show("2 -- a comment") == "2")
    }

    @Test func anInitializerSeesTheOldBindingOfTheNamesItDeclares() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("log = {}") == "")
        #expect(repl.show("local insert = function(t, v) return table.insert(t, v) end") == "")
        #expect(repl.show("local table = {insert = function(t, v) return insert(t, '[log] ' .. v) end}") == "")
        #expect(repl.show("table.insert(log, 'hi'); return log[1]") == "[log] hi")
        #expect(repl.show("local tostring = function(v) return '<' .. tostring(v) .. '>' end") == "")
        #expect(repl.show("tostring(1)") == "<1>")
        // A re-declared local: the initializer's closure keeps the old value.
        #expect(repl.show("local f = function() return 1 end") == "")
        #expect(repl.show("local f, g = function() return f() + 1 end, f") == "")
        #expect(repl.show("f(), g()") == "2\t1")
        #expect(repl.show("local n = 1; local n = n + 1; n = n * 10") == "")
        #expect(repl.show("n") == "20")
        // `local function` sees itself.
        #expect(repl.show("local function fact(k) return k < 2 and 1 or k * fact(k - 1) end") == "")
        #expect(repl.show("fact(5)") == "120")
    }

    @Test func numbersAndStringsAreReadAsLuaReadsThem() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("local x = 3") == "")
        #expect(repl.show("0xe-x, 0x1p-1 + x, 0x.8P+1, 1e-1 * x") == "11\t3.5\t1.0\t0.3")
        #expect(repl.show("s = \"a\\z\n   local y = 1\"") == "")
        #expect(repl.show("s, y") == "alocal y = 1\tnil")
        #expect(repl.show("s = 'b\\\r\nlocal y = 2'") == "")
        #expect(repl.show("s, y") == "b\nlocal y = 2\tnil")
        #expect(repl.localNames == ["x"])
    }

    @Test func aNewLocalDoesNotReadItsNameFromTheGlobals() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("reads = 0 do setmetatable(_G, {__index = function(_, k) reads = reads + 1 end}) end") == "")
        #expect(repl.show("local z = 1") == "")
        #expect(repl.show("z, reads") == "1\t0")
        #expect(repl.show("do setmetatable(_G, {__index = function(_, k) error('undefined global ' .. k, 2) end}) end") == "")
        #expect(repl.show("local y = 1") == "")
        #expect(repl.show("y + z") == "2")
    }

    @Test func underscoreIsTheLastResultEvenAfterLocalUnderscore() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("local _, y = 1, 2") == "")
        #expect(repl.show("5") == "5")
        #expect(repl.show("_") == "5")
        #expect(repl.show("_ + y") == "7")
    }

    @Test func sandboxedGlobalsPersistWithoutTheFullLibrary() throws {
        let repl = try makeEvaluator(trust: .sandboxed(roots: ["."]))
        #expect(repl.show("y = 2") == "")
        #expect(repl.show("y * 21, io, type(keep.sessions)") == "42\tnil\ttable")
        #expect(repl.show("local z = 1") == "")
        #expect(repl.show("z + y") == "3")
    }
}
