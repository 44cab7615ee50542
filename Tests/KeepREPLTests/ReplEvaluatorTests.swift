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

    @Test func sandboxedGlobalsPersistWithoutTheFullLibrary() throws {
        let repl = try makeEvaluator(trust: .sandboxed(roots: ["."]))
        #expect(repl.show("y = 2") == "")
        #expect(repl.show("y * 21, io, type(keep.sessions)") == "42\tnil\ttable")
        #expect(repl.show("local z = 1") == "")
        #expect(repl.show("z + y") == "3")
    }
}
