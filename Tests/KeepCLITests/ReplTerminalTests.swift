import Foundation
import Testing

/// `keep repl` at a terminal, driven through a pseudo-terminal (SPEC §6 "The REPL").
@Suite struct ReplTerminalTests {
    static func environment(home: URL, history: URL? = nil, colours: Bool = false) -> [String: String] {
        var environment = ["HOME": home.path, "TERM": "xterm", "PATH": "/usr/bin:/bin", "LANG": "C",
                           "KEEP_USER": "ana"]
        if let history { environment["KEEP_HISTORY"] = history.path }
        if !colours { environment["NO_COLOR"] = "1" }
        return environment
    }

    static func start(in directory: URL, history: URL? = nil, colours: Bool = false) throws -> PseudoTerminal {
        let terminal = try PseudoTerminal(["--db", directory.appendingPathComponent("keep.sqlite").path],
                                          environment: environment(home: directory, history: history, colours: colours))
        try terminal.waitFor("acting as ana")
        try terminal.waitFor(".help for help\n> ")
        return terminal
    }

    /// Types a loop over three lines, the last two on `...>` prompts.
    static func typeLoop(on terminal: PseudoTerminal) throws {
        try terminal.type("for i = 1, 2 do\r")
        try terminal.waitFor("...> ")
        try terminal.type("print(i * 10)\r")
        try terminal.waitFor("...> ")
        try terminal.type("end\r")
        try terminal.waitFor("10\n20\n> ")
    }

    /// What `scripts/run.sh` with no arguments starts: `keep` alone.
    @Test func keepAloneIsTheReplOnTheDefaultDatabaseWithTheShippedPolicies() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let terminal = try PseudoTerminal([], environment: Self.environment(home: directory), directory: directory)
        try terminal.waitFor("Keep REPL (Lua 5.4) · acting as ana · ./keep.sqlite · policies: ")
        try terminal.waitFor("/scripts/policies (shipped) · .help for help\n> ")
        try terminal.type(".help\r")
        for line in ["keep.sessions.create{", "keep.sessions.list{}", "keep.sessions.get(", "keep.snapshots.list{}"] {
            try terminal.waitFor(line)
        }
        try terminal.waitFor("\n> ")
        try terminal.type("keep.sessions.create{title = 'first', content = {}}.version\r")
        try terminal.waitFor("1\n> ")
        try terminal.type("\u{4}")
        #expect(try terminal.waitForExit() == 0)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("keep.sqlite").path))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(".keep_history").path))
    }

    @Test func promptContinuationLocalsPrettyPrintingAndErrors() throws {
        let terminal = try Self.start(in: try KeepBinary.temporaryDirectory())
        try terminal.type("local n = 41\r")
        try terminal.waitFor("> ")
        try terminal.type("n + 1\r")
        try terminal.waitFor("42\n> ")

        try Self.typeLoop(on: terminal)

        try terminal.type("{3, 1, {b = 2, a = 1}, name = 'x'}\r")
        try terminal.waitFor("{ 3, 1, { a = 1, b = 2 }, name = \"x\" }\n> ")

        try terminal.type("'naïve café ✓'\r")
        try terminal.waitFor("naïve café ✓\n> ")

        try terminal.type("error('boom')\r")
        try terminal.waitFor("stdin:1: boom\n> ")
        #expect(!terminal.rawText.contains("\u{1B}[31m"))  // NO_COLOR
        try terminal.type("1 + 1\r")
        try terminal.waitFor("2\n> ")

        try terminal.type("\u{4}")
        #expect(try terminal.waitForExit() == 0)
    }

    @Test func errorsAreRedOnATerminalWithoutNoColor() throws {
        let terminal = try Self.start(in: try KeepBinary.temporaryDirectory(), colours: true)
        try terminal.type("error('boom')\r")
        try terminal.waitFor("stdin:1: boom")
        #expect(terminal.rawText.contains("\u{1B}[31mstdin:1: boom\u{1B}[0m"))
        try terminal.type("\u{4}")
        #expect(try terminal.waitForExit() == 0)
    }

    @Test func ctrlCStopsRunningCodeWithinASecondAndClearsTheLine() throws {
        let terminal = try Self.start(in: try KeepBinary.temporaryDirectory())
        try terminal.type("while true do end\r")
        try terminal.waitFor("while true do end\n")
        try terminal.waitForSignals(enabled: true)
        let pressed = ContinuousClock.now
        terminal.send("\u{3}")
        try terminal.waitFor("interrupted: stopped by an interrupt (SIGINT)\n> ", timeout: .seconds(5))
        #expect(ContinuousClock.now - pressed < .seconds(1))

        // Printing runs the value's __tostring, which Ctrl-C stops too.
        try terminal.type("setmetatable({}, {__tostring = function() while true do end end})\r")
        try terminal.waitFor("end end})\n")
        try terminal.waitForSignals(enabled: true)
        terminal.send("\u{3}")
        try terminal.waitFor("interrupted: stopped by an interrupt (SIGINT)\n> ")

        try terminal.type("x = 'half typed\u{3}")
        try terminal.waitFor("^C\n> ")
        try terminal.type("x\r")
        try terminal.waitFor("nil\n> ")
        // On a continuation prompt, Ctrl-C drops the whole unfinished input.
        try terminal.type("for i = 1, 2 do\r")
        try terminal.waitFor("...> ")
        try terminal.type("\u{3}")
        try terminal.waitFor("^C\n> ")
        try terminal.type("'fresh'\r")
        try terminal.waitFor("fresh\n> ")
        try terminal.type(".exit\r")
        #expect(try terminal.waitForExit() == 0)
    }

    /// Only Ctrl-C is the REPL's: Ctrl-Z suspends it (under a shell with job
    /// control, as a person's is) and `fg` brings back the line being typed.
    @Test func ctrlZSuspendsAndFgResumesTheLine() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let terminal = try PseudoTerminal(shellScript: #"set -m; "$0" --db "$1"; echo "[suspended: $?]"; fg"#,
                                          arguments: [directory.appendingPathComponent("keep.sqlite").path],
                                          environment: Self.environment(home: directory))
        try terminal.waitFor(".help for help\n> ")
        try terminal.type("1 + ")
        try terminal.waitFor("1 + ")
        terminal.send("\u{1A}")
        try terminal.waitFor("[suspended: 148]")
        try terminal.type("2\r")
        try terminal.waitFor("3\n> ")
        try terminal.type("\u{4}")
        #expect(try terminal.waitForExit() == 0)
    }

    @Test func historyIsKeptAndRecalledAfterARestart() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let history = directory.appendingPathComponent("history")
        let first = try Self.start(in: directory, history: history)
        try first.type("6 * 7\r")
        try first.waitFor("42\n> ")
        try Self.typeLoop(on: first)
        try first.type("\u{4}")
        #expect(try first.waitForExit() == 0)

        let second = try Self.start(in: directory, history: history)
        try second.type("\u{1B}[A")         // Up: the multi-line entry, whole
        try second.waitFor("end")
        try second.type("\r")
        try second.waitFor("10\n20\n> ")
        try second.type("\u{1B}[A\u{1B}[A")  // Up twice: the entry before it
        try second.waitFor("6 * 7")
        try second.type("\r")
        try second.waitFor("42\n> ")
        try second.type("\u{4}")
        #expect(try second.waitForExit() == 0)
    }

    @Test func tabCompletesFieldsAndMethods() throws {
        let terminal = try Self.start(in: try KeepBinary.temporaryDirectory())
        try terminal.type("keep.ses\t")
        try terminal.waitFor("keep.sessions")
        try terminal.type("\r")
        try terminal.waitFor("create = function")
        try terminal.waitFor("> ")

        try terminal.type("s = keep.sessions.create{title = 'Q3 review', content = {a = 1}}\r")
        try terminal.waitFor("> ")
        try terminal.type("s\r")
        try terminal.waitFor(" \"Q3 review\" v1>\n> ")
        try terminal.type("s:da\t")
        try terminal.waitFor("s:data(")
        try terminal.type(")\r")
        try terminal.waitFor("{ a = 1 }\n> ")
        try terminal.type("\u{4}")
        #expect(try terminal.waitForExit() == 0)
    }

    /// Pasted code indented with tabs: Tab at the start of a line (or after a
    /// space) indents instead of completing.
    @Test func tabIndentsAtTheStartOfALine() throws {
        let terminal = try Self.start(in: try KeepBinary.temporaryDirectory())
        try terminal.type("if true then\r")
        try terminal.waitFor("...> ")
        try terminal.type("\t\tprint('in' .. 'side')\r")
        try terminal.waitFor("...> ")
        try terminal.type("end\r")
        try terminal.waitFor("inside\n> ")
        #expect(!terminal.rawText.contains("coroutine"), "no list of globals was offered")
        try terminal.type("\u{4}")
        #expect(try terminal.waitForExit() == 0)
    }

    /// KEEP_HISTORY naming something that is not a regular file (a pipe here,
    /// /dev/null in practice) turns history off instead of writing to it;
    /// set but empty, it turns history off too.
    @Test func historyIsOffForNonFilesAndEmptyKeepHistory() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let fifo = directory.appendingPathComponent("history.fifo")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let terminal = try Self.start(in: directory, history: fifo)
        try terminal.type("1 + 1\r")
        try terminal.waitFor("2\n> ")
        try terminal.type("\u{4}")
        #expect(try terminal.waitForExit() == 0, "exits without blocking on the pipe")

        var environment = Self.environment(home: directory)
        environment["KEEP_HISTORY"] = ""
        let quiet = try PseudoTerminal(["--db", directory.appendingPathComponent("keep.sqlite").path],
                                       environment: environment)
        try quiet.waitFor(".help for help\n> ")
        try quiet.type("2 + 2\r")
        try quiet.waitFor("4\n> ")
        try quiet.type("\u{4}")
        #expect(try quiet.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(".keep_history").path))
    }
}

/// The REPL feeds `keep.activity` (SPEC §5): keys make it active, the
/// terminal's focus report (ESC [ O, ESC [ I) hidden and visible.
@Suite struct ReplActivityTests {
    @Test func keystrokesAndFocusReportsDriveTheActivityObserver() throws {
        let directory = try KeepBinary.temporaryDirectory()
        var environment = ReplTerminalTests.environment(home: directory)
        environment["XDG_STATE_HOME"] = directory.appendingPathComponent("state").path
        let terminal = try PseudoTerminal(["--db", directory.appendingPathComponent("keep.sqlite").path],
                                          environment: environment)
        try terminal.waitFor(".help for help\n> ")
        #expect(terminal.rawText.contains("\u{1B}[?1004h"), "focus reporting is asked for")
        try terminal.type("seen = {}; sub = keep.activity.subscribe(function(new) seen[#seen + 1] = new end)\r")
        try terminal.waitFor("\n> ")
        try terminal.type("keep.activity.state\r")
        try terminal.waitFor("active\n> ")
        try terminal.type("\u{1B}[O")
        try terminal.type("\u{1B}[I")
        try terminal.type("table.concat(seen, ' ')\r")
        try terminal.waitFor("hidden visible active\n> ")
        // A script's state gives way to the next keystroke.
        try terminal.type("keep.activity.set('hidden')\r")
        try terminal.waitFor("\n> ")
        try terminal.type("keep.activity.state\r")
        try terminal.waitFor("active\n> ")
        try terminal.type(".exit\r")
        #expect(try terminal.waitForExit() == 0)
    }
}
