import Foundation
import Testing

/// `keep repl` with standard input not a terminal: no prompts, banner, colours
/// or line editing; each complete chunk is evaluated and its values printed.
@Suite struct ReplPipedTests {
    /// Runs `keep repl` on `input` in a fresh directory whose HOME it also is.
    static func repl(_ input: String, arguments: [String] = [], home: URL? = nil) throws -> KeepBinary.Result {
        let directory = try home ?? KeepBinary.temporaryDirectory()
        let environment = ["HOME": directory.path, "PATH": "/usr/bin:/bin", "KEEP_USER": "ana"]
        return try KeepBinary.run(["repl", "--db", directory.appendingPathComponent("keep.sqlite").path] + arguments,
                                  stdin: input, directory: directory, environment: environment)
    }

    @Test func assignmentThenExpression() throws {
        let result = try Self.repl("x=1\nx+1\n")
        #expect(result.stdout == "2\n")
        #expect(result.stderr == "")
        #expect(result.status == 0)
    }

    @Test func keepWithoutACommandIsTheRepl() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let result = try KeepBinary.run(["--user", "bob"], stdin: "6 * 7\nkeep.user\n", directory: directory,
                                        environment: ["HOME": directory.path, "PATH": "/usr/bin:/bin"])
        #expect(result.stdout == "42\nbob\n")
        #expect(result.status == 0)
    }

    @Test func localsPersistAndClosuresShareThem() throws {
        let input = """
            local n = 1
            local function bump() n = n + 1 return n end
            bump()
            n
            local a, b = 10
            a, b
            local m <const> = 5
            m
            local t = {}
            t.x = 3
            t.x
            """
        let result = try Self.repl(input + "\n")
        #expect(result.stdout == "2\n2\n10\tnil\nnil\n3\n")
        #expect(result.status == 0)
    }

    @Test func multiLineChunksAndResults() throws {
        let input = """
            for i = 1, 3 do
              io.write(i, " ")
            end
            print()
            {
              "multi-line",
              "table",
            }
            1, "two", nil, 2.5
            "a string prints as it is"
            _
            """
        let result = try Self.repl(input + "\n")
        #expect(result.stdout == """
            1 2 3 
            { "multi-line", "table" }
            1\ttwo\tnil\t2.5
            a string prints as it is
            a string prints as it is

            """)
    }

    @Test func prettyPrintingSortsCutsAndMarksCycles() throws {
        let input = """
            t = {3, 2, 1, zeta = true, alpha = "a\\nb", [10] = 0.5, nested = {deep = {deeper = {deepest = {}}}}}
            t
            t.self = t
            t.self.nested
            big = {} for i = 1, 150 do big[i] = i end
            #tostring(big) > 0 and big[150]
            {x = {}, y = {[1.5] = "f", [true] = 1}}
            """
        let result = try Self.repl(input + "\n")
        #expect(result.stdout == #"""
            {
              3,
              2,
              1,
              [10] = 0.5,
              alpha = "a\nb",
              nested = { deep = { deeper = { deepest = {} } } },
              zeta = true,
            }
            { deep = { deeper = { deepest = {} } } }
            150
            { x = {}, y = { [1.5] = "f", [true] = 1 } }

            """#)
        #expect(result.status == 0)

        let cut = try Self.repl("big = {} for i = 1, 150 do big[i] = i end\nbig\n")
        // A long list of plain values fills its lines, and stops at 100 with a count.
        #expect(cut.stdout == """
            {
              1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
              23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
              42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60,
              61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,
              80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98,
              99, 100, … 50 more
            }

            """)

        let cycle = try Self.repl("t = {name = 'loop'}\nt.again = t\nt\n{{{{{{'too deep'}}}}}}\n")
        #expect(cycle.stdout == "<1>{ again = <cycle 1>, name = \"loop\" }\n{ { { { {…} } } } }\n")
    }

    @Test func errorsReportLocationAndTracebackAndTheReplGoesOn() throws {
        let input = """
            error("boom")
            local function inner() error("deep") end
            local function outer() inner() return 1 end
            outer()
            1 + 1
            error({code = "invalid", message = "title is empty"})
            x = = 1
            "still here"
            """
        let result = try Self.repl(input + "\n")
        #expect(result.stdout == "2\nstill here\n")
        #expect(result.stderr == """
            stdin:1: boom
            stdin:2: deep
            stack traceback:
            \tstdin:2: in upvalue 'inner'
            \tstdin:3: in upvalue 'outer'
            \tstdin:4: in main chunk
            invalid: title is empty
            stdin:7: unexpected symbol near '='

            """)
        #expect(result.status == 1)
    }

    @Test func expressionErrorsReportTheirOwnLine() throws {
        let result = try Self.repl("x = nil\nx.y\nx.z -- a comment\n")
        #expect(result.stderr == """
            stdin:2: attempt to index a nil value (global 'x')
            stdin:3: attempt to index a nil value (global 'x')

            """)
    }

    @Test func incompleteInputAtTheEndIsASyntaxError() throws {
        let result = try Self.repl("1\nfor i = 1, 2 do\n")
        #expect(result.stdout == "1\n")
        #expect(result.stderr == "stdin:2: 'end' expected near <eof>\n")
        #expect(result.status == 1)
    }

    @Test func sessionsAndPages() throws {
        let input = """
            s = keep.sessions.create{title = "Q3 review", content = {b = 2, a = 1}}
            s.title, s.version
            s:data()
            keep.sessions.create{title = "second", content = {}}.title
            p = keep.sessions.list{page_size = 1, sort_by = "title", direction = "asc"}
            #p.items, p.next_token ~= nil
            keep.sessions.list{sort_by = "title", direction = "asc", page_token = p.next_token}.items[1].title
            """
        let result = try Self.repl(input + "\n")
        #expect(result.stdout == "Q3 review\t1\n{ a = 1, b = 2 }\nsecond\n1\ttrue\nsecond\n")
        #expect(result.stderr == "")

        let errors = try Self.repl("keep.sessions.get('AAAAAAAAAAAA')\nlocal function open(id) return keep.sessions.get(id) end\nopen('x')\n")
        #expect(errors.stderr == """
            stdin:1: not_found: session AAAAAAAAAAAA not found
            stdin:2: invalid: 'x' is not an id; ids are 12 characters from A-Z a-z 0-9 _ -
            stack traceback:
            \tstdin:2: in upvalue 'open'
            \tstdin:3: in main chunk

            """)

        let page = try Self.repl("""
            for i = 1, 3 do keep.sessions.create{title = "s" .. i, content = {}} end
            keep.sessions.list{page_size = 2, sort_by = "title", direction = "asc"}
            keep.sessions.list{page_token = _.next_token, page_size = 2, sort_by = "title", direction = "asc"}

            """)
        let lines = page.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(lines[0] == "page of 2 items")
        #expect(lines[1].hasPrefix("  [1] Session<") && lines[1].hasSuffix(" \"s1\" v1>"))
        #expect(lines[2].hasPrefix("  [2] Session<") && lines[2].hasSuffix(" \"s2\" v1>"))
        #expect(lines[3] == "next page: repeat the keep.sessions.list call with page_token = _.next_token added")
        #expect(lines[4] == "page of 1 item (last page)")
        #expect(lines[5].hasSuffix(" \"s3\" v1>"))
    }

    @Test func dotCommands() throws {
        let directory = try KeepBinary.temporaryDirectory()
        try "#!/usr/bin/env lua\nlocal greeting = 'hello from a file'\nreturn 'loaded'\n"
            .write(to: directory.appendingPathComponent("lib.lua"), atomically: true, encoding: .utf8)
        let input = """
            .load lib.lua
            greeting
            .user
            .user bob
            keep.user
            .user
            .nope
            .load missing.lua
            .load
            .policy
            .exit
            "not reached"
            """
        let result = try Self.repl(input + "\n", home: directory)
        #expect(result.stdout.hasPrefix("loaded\nhello from a file\nana\nacting as bob\nbob\nbob\n{\n  directory = "))
        #expect(result.stdout.contains("  files = { \"validation.lua\", \"retry.lua\", \"save.lua\", \"visits.lua\" },"))
        #expect(!result.stdout.contains("not reached"))
        #expect(result.stderr == """
            unknown command '.nope'; .help lists the commands
            cannot open missing.lua: No such file or directory
            usage: .load FILE

            """)
        #expect(result.status == 1)
    }

    @Test func timeShowsEachEvaluationsDuration() throws {
        let result = try Self.repl(".time\n1\nx = 2\n.time\n3\n")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(Array(lines[0 ... 1]) == ["timing on", "1"])
        #expect(lines[2].hasPrefix("(") && (lines[2].hasSuffix(" µs)") || lines[2].hasSuffix(" ms)")))
        #expect(lines[3].hasPrefix("(") && lines[3].hasSuffix("s)"))
        #expect(Array(lines[4 ... 5]) == ["timing off", "3"])
    }

    @Test func dotCommandsRejectBadInputClearly() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let input = ".user \(String(repeating: "a", count: 201))\n.time now\n.load \(directory.path)\n.edit x\n.edit\nkeep.user\n"
        let result = try KeepBinary.run(["repl", "--db", directory.appendingPathComponent("keep.sqlite").path],
                                        stdin: input, directory: directory,
                                        environment: ["HOME": directory.path, "PATH": "/usr/bin:/bin", "KEEP_USER": "ana",
                                                      "EDITOR": "false"])
        #expect(result.stdout == "ana\n")
        #expect(result.stderr == """
            invalid: the user id '\(String(repeating: "a", count: 40))…' is 201 bytes long; a user id is 1 to 128 bytes of UTF-8 (after NFC normalization), with no control characters and no white space at the start or end
            usage: .time
            cannot read \(directory.path): Is a directory
            usage: .edit
            the editor (false) failed; nothing was run

            """)
        #expect(result.status == 1)
    }

    @Test func helpTeachesSessionsAndSnapshots() throws {
        let result = try Self.repl(".help\n")
        for expected in ["keep.sessions.create{", "keep.sessions.list{}", "keep.sessions.get(", "s:snapshot{",
                         "keep.snapshots.list{}", "keep.snapshots.get(", ".load FILE", ".edit", "Ctrl-C"] {
            #expect(result.stdout.contains(expected), "help lacks \(expected)")
        }
        #expect(!result.stdout.contains("Keep REPL"))  // no banner when piped
    }

    @Test func startupFileRunsUnlessNoRC() throws {
        let directory = try KeepBinary.temporaryDirectory()
        try "local greeting = 'hi from rc'\nfunction double(x) return 2 * x end\n"
            .write(to: directory.appendingPathComponent(".keeprc.lua"), atomically: true, encoding: .utf8)
        let withRC = try Self.repl("greeting\ndouble(21)\n", home: directory)
        #expect(withRC.stdout == "hi from rc\n42\n")
        let without = try Self.repl("greeting\ndouble\n", arguments: ["--norc"], home: directory)
        #expect(without.stdout == "nil\tnil\n" || without.stdout == "nil\nnil\n")
    }

    @Test func editRunsWhatTheEditorSaved() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let editor = directory.appendingPathComponent("editor.sh")
        // The editor checks it starts from the last typed input, then replaces it.
        try "#!/bin/sh\ngrep -qx 'x = 1' \"$1\" || exit 1\nprintf 'local from_editor = 6\\nreturn from_editor * 7\\n' > \"$1\"\n"
            .write(to: editor, atomically: true, encoding: .utf8)
        chmod(editor.path, 0o755)
        let result = try KeepBinary.run(["repl", "--db", directory.appendingPathComponent("keep.sqlite").path],
                                        stdin: "x = 1\n.policy\n.edit\nfrom_editor\n", directory: directory,
                                        environment: ["HOME": directory.path, "PATH": "/usr/bin:/bin", "EDITOR": editor.path,
                                                      "KEEP_USER": "ana"])
        #expect(result.stdout.hasSuffix("}\n42\n6\n"))
        #expect(result.stderr == "")
    }

    @Test func sandboxKeepsGlobalsButNotTheLibrary() throws {
        let result = try Self.repl("x = 1\nx + 1\nio\nos.execute\ntype(keep.sessions)\n", arguments: ["--sandbox"])
        #expect(result.stdout == "2\nnil\nnil\ntable\n")
    }

    /// `keep repl` running on a pipe the test writes to.
    static func startRepl() throws -> (Process, FileHandle) {
        let directory = try KeepBinary.temporaryDirectory()
        let process = try KeepBinary.start(["repl", "--db", directory.appendingPathComponent("keep.sqlite").path],
                                           directory: directory,
                                           environment: ["HOME": directory.path, "PATH": "/usr/bin:/bin", "KEEP_USER": "ana"])
        return (process, (process.standardInput as! Pipe).fileHandleForWriting)
    }

    @Test func ctrlCStopsPipedInputWithStatus130() throws {
        let (process, input) = try Self.startRepl()
        input.write(Data("print('looping') io.stdout:flush() while true do end\n".utf8))
        try Self.waitFor("looping", from: process)
        process.interrupt()
        try input.close()
        let result = try KeepBinary.finish(process)
        #expect(result.status == 130)
        #expect(result.stderr.hasPrefix("interrupted: stopped by an interrupt (SIGINT)"))
    }

    @Test func ctrlCWhileWaitingForInputExitsWithStatus130() throws {
        let (process, input) = try Self.startRepl()
        input.write(Data("print('waiting') io.stdout:flush()\n".utf8))
        try Self.waitFor("waiting", from: process)
        process.interrupt()
        // At once, not when more input comes (which it would then stop).
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        #expect(!process.isRunning)
        try input.close()
        let result = try KeepBinary.finish(process)
        #expect(result.status == 130)
    }

    struct Timeout: Error {}

    /// Reads the process's standard output until `text` appears; throws when
    /// the output ends first or after 20 seconds.
    static func waitFor(_ text: String, from process: Process) throws {
        let output = (process.standardOutput as! Pipe).fileHandleForReading.fileDescriptor
        let deadline = ContinuousClock.now + .seconds(20)
        var seen: [UInt8] = []
        while !String(decoding: seen, as: UTF8.self).contains(text) {
            guard ContinuousClock.now < deadline else { throw Timeout() }
            var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 100) >= 0 else { throw Timeout() }
            guard descriptor.revents != 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = read(output, &buffer, buffer.count)
            guard count > 0 else { throw Timeout() }  // the process closed its output (it died)
            seen += buffer[0 ..< count]
        }
    }

    @Test(".help's tour does what it says: an empty array stays an array, w:edit changes the content, w.title the title")
    func helpTourExamplesWork() throws {
        let help = try Self.repl(".help\n").stdout
        #expect(help.contains("content = {dashboards = json.array()}"))
        #expect(help.contains("w.title = \"Q3 final\""))
        #expect(!help.contains("d.title"), "the content has no title: \(help)")
        // The tour's lines, as printed.
        let result = try Self.repl("""
            s = keep.sessions.create{title = "Q3 review", content = {dashboards = json.array()}}
            s.content
            w = keep.workbench.open(s.id)
            w:edit(function(d) table.insert(d.dashboards, {name = "Revenue"}) end)
            w.title = "Q3 final"
            w:save()
            keep.sessions.get(s.id).title
            keep.sessions.get(s.id):data().title
            keep.sessions.get(s.id):data().dashboards[1].name

            """)
        #expect(result.stderr == "")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 8, "\(result.stdout)")
        #expect(Array(lines.prefix(3)) == ["{", "  \"dashboards\": []", "}"], "stored as an array: \(result.stdout)")
        #expect(lines[3].hasPrefix("WorkingCopy<") && lines[3].hasSuffix(" \"Q3 review\" modified>"))
        #expect(Array(lines.dropFirst(4)) == ["saved\tupdated", "Q3 final", "nil", "Revenue"])
    }
}
