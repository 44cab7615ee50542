import Testing
@testable import KeepREPL

@Suite struct ChunkScannerTests {
    private func scan(_ source: String) -> ChunkScanner { ChunkScanner(Array(source.utf8)) }

    @Test func findsTopLevelLocalStatements() {
        let scanner = scan("local a, b = 1\nlocal c\nlocal function f() end")
        #expect(scanner.locals.map(\.names) == [["a", "b"], ["c"], ["f"]])
        #expect(scanner.locals.map(\.keyword) == [0 ..< 5, 15 ..< 20, 23 ..< 28])
        #expect(scanner.locals.map(\.missingInitializer) == [nil, 22, nil])
    }

    @Test func ignoresLocalsInsideBlocks() {
        let source = """
            function f() local x = 1 end
            do local y = 2 end
            if c then local z = 3 elseif d then local w = 4 else local v = 5 end
            while c do local u = 6 end
            for i = 1, 2 do local t = 7 end
            repeat local r = 8 until r
            g = function() local q = 9 end
            local top = 10
            """
        #expect(scan(source).locals.map(\.names) == [["top"]])
    }

    @Test func ignoresLocalInStringsAndComments() {
        let source = """
            s = "local a = 1" .. 'local b' .. [[local c]] .. [==[ ]] local d ]==]
            -- local e
            --[[ local f
            ]] --[=[ local g ]=]
            """
        #expect(scan(source).locals.isEmpty)
    }

    @Test func leavesAttributedLocalsAlone() {
        #expect(scan("local x <const> = 1").locals.isEmpty)
        #expect(scan("local a, h <close> = 1, nil").locals.isEmpty)
        #expect(scan("local _ENV = {}").locals.isEmpty)
    }

    @Test func stringsContinueAfterEscapedLineBreaks() {
        #expect(scan("s = \"a\\z\n  local y = 1\"").locals.isEmpty)
        #expect(scan("s = \"a\\\r\nlocal y = 1\"").locals.isEmpty)
        #expect(scan("s = 'a\\\nlocal y = 1'").locals.isEmpty)
        #expect(scan("s = 'a'\nlocal y = 1").locals.map(\.names) == [["y"]])
    }

    @Test func hexNumbersHaveNoDecimalExponent() {
        #expect(scan("return 0xe-x").names == ["x"])
        #expect(scan("return 0xE+y, 0x1p-2, 0x.8P+1 + z, 1e-3, 3E+2-w").names == ["y", "z", "w"])
    }

    @Test func initializersEndWhereTheirExpressionsDo() {
        let source = "local a, b = f(a).x:m{1}, -b ^ 2 .. 'x' local c = function() return c end c = 1"
        let locals = scan(source).locals
        #expect(locals.map(\.mentioned) == [["a", "b"], ["c"]])
        let bytes = Array(source.utf8)
        #expect(locals.compactMap(\.initializer).map { String(decoding: bytes[$0], as: UTF8.self) }
            == ["f(a).x:m{1}, -b ^ 2 .. 'x'", "function() return c end"])
        #expect(scan("local x = 1; local y = x").locals.map(\.mentioned) == [[], []])
    }

    @Test func codeEndsBeforeTrailingComments() {
        #expect(scan("x.y -- note").codeEnd == 3)
        #expect(scan("x --[[ a ]] ").codeEnd == 1)
    }

    @Test func namesExcludeFieldsAndMethods() {
        let scanner = scan("a.b:c(d, 0x1p4, 1e-3) x = y['z']")
        #expect(scanner.names == ["a", "d", "x", "y"])
    }
}
