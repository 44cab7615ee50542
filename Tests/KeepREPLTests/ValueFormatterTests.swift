import KeepLua
import Testing
@testable import KeepREPL

@Suite struct ValueFormatterTests {
    @Test func scalarsAndStrings() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("nil, true, 42, 2.5, 1e100, -0.0") == "nil\ttrue\t42\t2.5\t1e+100\t-0.0")
        #expect(repl.show("'top level strings print as they are\\n'") == "top level strings print as they are\n")
        #expect(repl.show(#"{"q\"uote", "tab\t", "\0001", "\xff", "é"}"#) == #"{ "q\"uote", "tab\t", "\0001", "\xFF", "é" }"#)
        #expect(repl.show("{('x'):rep(300)}") == "{\n  \"" + String(repeating: "x", count: 200) + "\"… (300 bytes),\n}")
    }

    @Test func keysSortNumbersThenStringsThenBooleans() throws {
        let repl = try makeEvaluator()
        repl.formatter.width = 200
        #expect(repl.show("{b = 1, a = 2, [2.5] = 3, [-1] = 4, [true] = 5, ['with space'] = 6, ['end'] = 7, 'first'}")
            == #"{ "first", [-1] = 4, [2.5] = 3, a = 2, b = 1, ["end"] = 7, ["with space"] = 6, [true] = 5 }"#)
    }

    @Test func depthEntriesAndCycles() throws {
        let repl = try makeEvaluator()
        var formatter = ValueFormatter()
        formatter.maxDepth = 2
        formatter.maxEntries = 3
        repl.formatter = formatter
        #expect(repl.show("{{{1}}, {}}") == "{ { {…} }, {} }")
        #expect(repl.show("{1, 2, 3, 4, 5, x = 1}") == "{ 1, 2, 3, … 3 more }")
        #expect(repl.show("{a = 1, b = 2, c = 3, d = 4}") == "{ a = 1, b = 2, c = 3, … 1 more }")
        #expect(repl.show("t = {}; t.me = t; u = {t}; return u, t") == "{ <1>{ me = <cycle 1> } }\t<1>{ me = <cycle 1> }")
        #expect(repl.show("shared = {1}; return {shared, shared}") == "{ { 1 }, { 1 } }")
    }

    @Test func longTablesBreakIntoLines() throws {
        let repl = try makeEvaluator()
        var formatter = ValueFormatter()
        formatter.width = 30
        repl.formatter = formatter
        #expect(repl.show("{name = 'a fairly long name', list = {1, 2, 3}}") == """
            {
              list = { 1, 2, 3 },
              name = "a fairly long name",
            }
            """)
        #expect(repl.show("{nested = {name = 'a fairly long name', n = 1}, x = 1}") == """
            {
              nested = {
                n = 1,
                name = "a fairly long name",
              },
              x = 1,
            }
            """)
    }

    @Test func objectsAndTablesWithToStringUseIt() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("item, {item}") == #"Item<"Q3 review">"# + "\t" + #"{ Item<"Q3 review"> }"#)
        #expect(repl.show("setmetatable({}, {__tostring = function() return 'custom' end})") == "custom")
        #expect(repl.show("setmetatable({}, {__tostring = function() error('no') end})")
            == "<table: __tostring failed: stdin:1: no>")
    }

    @Test func aFailingToStringIsShownAsTheValueItIs() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("setmetatable({}, {__tostring = function() error('no text', 0) end})")
            == "<table: __tostring failed: no text>")
        #expect(repl.show("{setmetatable({}, {__tostring = function() return {} end})}")
            == "{ <table: __tostring failed: '__tostring' must return a string> }")
    }

    @Test func pagesShowTheirItemsAndTheNextCall() throws {
        let repl = try makeEvaluator()
        #expect(repl.show("{items = {item, item}, next_token = 'abc'}") == """
            page of 2 items
              [1] Item<"Q3 review">
              [2] Item<"Q3 review">
            next page: repeat the list call with page_token = _.next_token added
            """)
        #expect(repl.show("{items = {{snapshot_id = 'x'}}, next_token = 'abc'}").hasSuffix(
            "next page: repeat the keep.visits.list call with page_token = _.next_token added"))
        #expect(repl.show("{items = {}}") == "page of 0 items (last page)")
        #expect(repl.show("{items = {}, other = 1}") == "{ items = {}, other = 1 }")
    }
}
