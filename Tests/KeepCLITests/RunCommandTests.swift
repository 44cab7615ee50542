import Foundation
import Testing

@Suite struct RunCommandTests {
    @Test func printsToStdoutAndExitsZero() throws {
        let result = try KeepBinary.run(["run", "-e", "print(1 + 1, 'two', 2.5)"])
        #expect(result.status == 0)
        #expect(result.stdout == "2\ttwo\t2.5\n")
        #expect(result.stderr == "")
    }

    @Test func scriptFileGetsArgTableAndVarargs() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let script = directory.appendingPathComponent("args.lua")
        try "print(arg[0], arg[1], arg[2], select('#', ...), ...)".write(to: script, atomically: true, encoding: .utf8)
        let result = try KeepBinary.run(["run", script.path, "a b", "--flag"])
        #expect(result.status == 0)
        #expect(result.stdout == "\(script.path)\ta b\t--flag\t2\ta b\t--flag\n")
    }

    @Test func scriptFromStandardInput() throws {
        let result = try KeepBinary.run(["run", "-"], stdin: "print(json.encode({b = 1, a = {}}))\n")
        #expect(result.status == 0)
        #expect(result.stdout == "{\"a\":{},\"b\":1}\n")
    }

    @Test func runtimeErrorExitsOneWithLocationAndTraceback() throws {
        let directory = try KeepBinary.temporaryDirectory()
        try "local x = 1\nerror('boom')\n".write(to: directory.appendingPathComponent("fail.lua"), atomically: true, encoding: .utf8)
        let result = try KeepBinary.run(["run", "fail.lua"], directory: directory)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("keep: fail.lua:2: boom\nstack traceback:"))
    }

    @Test func keepErrorValuesPrintCodeAndMessage() throws {
        let result = try KeepBinary.run(["run", "-e", "error({code = 'invalid', message = 'title is empty'})"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("keep: invalid: title is empty"))
        let decode = try KeepBinary.run(["run", "-e", "\njson.decode('[1,')"])
        #expect(decode.status == 1)
        #expect(decode.stderr.hasPrefix("keep: (command line):2: invalid: json.decode: unexpected end of input"))
    }

    @Test func syntaxErrorExitsOne() throws {
        let result = try KeepBinary.run(["run", "-e", "x = = 1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("(command line):1: unexpected symbol near '='"))
    }

    @Test func missingFileExitsOne() throws {
        let result = try KeepBinary.run(["run", "/nonexistent/script.lua"])
        #expect(result.status == 1)
        #expect(result.stderr == "keep: not_found: cannot open /nonexistent/script.lua: No such file or directory\n")
    }

    @Test(arguments: [
        ["run"],
        ["run", "--max-memory", "lots", "-e", "print(1)"],
        ["run", "--timeout", "soon", "-e", "print(1)"],
        ["run", "--max-instructions", "0", "-e", "print(1)"],
        ["no-such-command"],
        ["run", "--bogus"],
    ])
    func usageErrorsExitTwo(_ arguments: [String]) throws {
        let result = try KeepBinary.run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    @Test func trustedByDefaultSandboxedOnRequest() throws {
        let trusted = try KeepBinary.run(["run", "-e", "print(type(io), type(os.execute))"])
        #expect(trusted.stdout == "table\tfunction\n")
        let sandboxed = try KeepBinary.run(["run", "--sandbox", "-e", "print(type(io), type(os.execute), type(os.time))"])
        #expect(sandboxed.stdout == "nil\tnil\tfunction\n")
    }

    @Test func sandboxedRequireStaysInTheScriptFolder() throws {
        let directory = try KeepBinary.temporaryDirectory()
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("lib"), withIntermediateDirectories: true)
        try "return { hello = 'hi' }".write(to: directory.appendingPathComponent("lib/greet.lua"), atomically: true, encoding: .utf8)
        try "print(require('lib.greet').hello)\nrequire('../etc')".write(to: directory.appendingPathComponent("main.lua"), atomically: true, encoding: .utf8)
        let result = try KeepBinary.run(["run", "--sandbox", directory.appendingPathComponent("main.lua").path])
        #expect(result.stdout == "hi\n")
        #expect(result.status == 1)
        #expect(result.stderr.contains("main.lua:2: require: module name '../etc' is not allowed"))
    }

    @Test func budgetsStopRunawayScripts() throws {
        let instructions = try KeepBinary.run(["run", "--max-instructions", "100000", "-e", "while true do end"])
        #expect(instructions.status == 1)
        #expect(instructions.stderr.hasPrefix("keep: limit: instruction budget of 100000 instructions exceeded"))
        let memory = try KeepBinary.run(["run", "--max-memory", "4MiB", "-e", "local t = {} while true do t[#t + 1] = {} end"])
        #expect(memory.status == 1)
        #expect(memory.stderr.hasPrefix("keep: limit: memory budget of 4.00 MiB exceeded"))
        let time = try KeepBinary.run(["run", "--timeout", "100ms", "-e", "while true do end"])
        #expect(time.status == 1)
        #expect(time.stderr.hasPrefix("keep: limit: time budget of 100 ms exceeded"))
    }

    @Test func sigintInterruptsAndExits130() throws {
        let process = try KeepBinary.start(["run", "-e", "io.write('ready\\n') io.stdout:flush() while true do end"])
        // Never leave a spinning child behind, whatever happens below.
        DispatchQueue.global().asyncAfter(deadline: .now() + 20) {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        let output = (process.standardOutput as! Pipe).fileHandleForReading
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("ready\n") {
            let chunk = output.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        kill(process.processIdentifier, SIGINT)
        let result = try KeepBinary.finish(process)
        #expect(result.status == 130)
        #expect(result.stderr.hasPrefix("keep: interrupted"))
    }
}
