import Testing
@testable import KeepREPL

@Suite struct CompleterTests {
    @Test func globalsFieldsAndLocals() throws {
        let repl = try makeEvaluator()
        let completer = Completer(evaluator: repl)
        #expect(completer.complete("keep.ses").candidates == ["sessions"])
        #expect(completer.complete("keep.ses").insertion == "sions")
        #expect(completer.complete("keep.s").candidates == ["sessions", "snapshots"])
        #expect(completer.complete("keep.s").insertion == "")
        #expect(completer.complete("x = pri").candidates == ["print"])
        #expect(completer.complete("string.fo").candidates == ["format"])
        #expect(completer.complete("whi").candidates == ["while"])
        _ = repl.evaluate("local longname = {field = 1}")
        #expect(completer.complete("print(longn").candidates == ["longname"])
        #expect(completer.complete("longname.f").candidates == ["field"])
    }

    @Test func objectMethodsAndProperties() throws {
        let repl = try makeEvaluator()
        let completer = Completer(evaluator: repl)
        #expect(completer.complete("item:da").candidates == ["data("])
        #expect(completer.complete("item:da").insertion == "ta(")
        #expect(completer.complete("item:").candidates == ["data(", "delete("])
        #expect(completer.complete("item.t").candidates == ["title"])
        _ = repl.evaluate("s = 'text'")
        #expect(completer.complete("s:up").candidates == ["upper("])
    }

    @Test func followsIndexTablesAndGivesUpQuietly() throws {
        let repl = try makeEvaluator()
        let completer = Completer(evaluator: repl)
        _ = repl.evaluate("t = setmetatable({own = 1}, {__index = {inherited = 2}})")
        #expect(completer.complete("t.").candidates == ["inherited", "own"])
        #expect(completer.complete("t.inherited.x").candidates == [])
        #expect(completer.complete("missing.x").candidates == [])
        #expect(completer.complete("1.").candidates == [])
        #expect(completer.complete("a..b").candidates == [])
        #expect(repl.state.stack.top == 0)
    }

    @Test func candidatesListInColumns() {
        #expect(LineEditor.columns(["sessions", "snapshots"]) == "sessions   snapshots")
        let many = (1 ... 12).map { "name\($0)" }
        #expect(LineEditor.columns(many).split(separator: "\n").count == 2)
    }

    @Test func dotCommandsAreRecognised() {
        #expect(DotCommand(".load  file.lua ") == DotCommand(name: "load", argument: "file.lua"))
        #expect(DotCommand("  .help") == DotCommand(name: "help", argument: ""))
        #expect(DotCommand(".5 + 1") == nil)
        #expect(DotCommand("...") == nil)
        #expect(DotCommand("x = 1") == nil)
    }
}
