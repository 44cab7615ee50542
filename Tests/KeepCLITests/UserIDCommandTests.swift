import Foundation
import Testing

/// Who acts (SPEC §1 "User ids"): `--user`, `KEEP_USER`, `USER`, `.user` and
/// `keep.as` follow one rule, and nothing is guessed or repaired.
@Suite struct UserIDCommandTests {
    let directory: URL
    init() throws { directory = try KeepBinary.temporaryDirectory() }

    var db: String { directory.appendingPathComponent("keep.sqlite").path }

    /// `keep run -e code` with exactly this environment (no inherited USER).
    func run(_ arguments: [String], _ code: String, environment: [String: String] = [:]) throws -> KeepBinary.Result {
        try KeepBinary.run(["--db", db] + arguments + ["run", "-e", code], directory: directory,
                           environment: ["PATH": "/usr/bin:/bin", "HOME": directory.path].merging(environment) { $1 })
    }

    @Test func withoutAnyUserKeepRefusesInsteadOfActingAsAGuess() throws {
        for environment in [[:], ["KEEP_USER": ""], ["KEEP_USER": "", "USER": ""]] {
            let result = try run([], "print(keep.user)", environment: environment)
            #expect(result.status == 2)
            #expect(result.stdout == "")
            #expect(result.stderr.hasPrefix("keep: invalid: no user to act as: give --user ID, or set KEEP_USER (or USER); a user id is 1 to 128 bytes"))
        }
        let fromUser = try run([], "print(keep.user)", environment: ["USER": "ana"])
        #expect(fromUser.stdout == "ana\n" && fromUser.status == 0)
        let repl = try KeepBinary.run(["--db", db, "repl"], stdin: "keep.user\n", directory: directory,
                                      environment: ["PATH": "/usr/bin:/bin", "HOME": directory.path])
        #expect(repl.status == 2 && repl.stderr.contains("no user to act as"))
    }

    @Test func badIdsAreRefusedWithTheRuleAndExitStatus2() throws {
        let cases: [(String, String)] = [
            (" ana", "starts or ends with white space"),
            ("ana\u{A0}", "starts or ends with white space"),
            ("ana\t", "contains the control character U+0009"),
            ("an\na", "contains the control character U+000A"),
            (String(repeating: "é", count: 65), "is 130 bytes long"),
        ]
        for (user, problem) in cases {
            let flag = try run(["--user", user], "print(keep.user)")
            #expect(flag.status == 2, "\(user)")
            #expect(flag.stderr.contains(problem) && flag.stderr.contains("a user id is 1 to 128 bytes of UTF-8"), "\(flag.stderr)")
            #expect(flag.stderr.split(separator: "\n").count == 1, "one line, the newline shown escaped: \(flag.stderr)")
            let environment = try run([], "print(keep.user)", environment: ["KEEP_USER": user])
            #expect(environment.status == 2)
            #expect(environment.stderr.hasPrefix("keep: invalid: $KEEP_USER: the user id"), "\(environment.stderr)")
        }
        let longest = String(repeating: "é", count: 64)
        #expect(try run(["--user", longest], "print(#keep.user)").stdout == "128\n")
    }

    @Test func composedAndDecomposedIdsAreOneUser() throws {
        let decomposed = "Zoe\u{308}", composed = "Zo\u{EB}"
        let created = try run(["--user", decomposed], """
            local s = keep.sessions.create{title = "mine", content = "{}"}
            print(s.id, keep.user == "\(composed)", #keep.user)
            """)
        #expect(created.status == 0, "\(created.stderr)")
        let id = String(created.stdout.split(separator: "\t").first ?? "")
        #expect(created.stdout.hasSuffix("\ttrue\t4\n"))
        let read = try run([], "print(keep.sessions.get('\(id)').title)", environment: ["KEEP_USER": composed])
        #expect(read.stdout == "mine\n", "\(read.stderr)")
    }

    @Test func invalidUTF8IsRefusedNotRepaired() throws {
        // Process arguments are Swift strings: a shell passes the raw byte.
        let script = #"exec "$0" --db "$1" --user "$(printf 'ana\377')" run -e 'print(keep.user)'"#
        let flag = try shell(script)
        #expect(flag.status == 2)
        #expect(flag.stderr.contains("is not valid UTF-8"), "\(flag.stderr)")
        let environment = try shell(#"KEEP_USER="$(printf 'ana\377')" exec "$0" --db "$1" run -e 'print(keep.user)'"#)
        #expect(environment.status == 2)
        #expect(environment.stderr.contains("$KEEP_USER: the user id") && environment.stderr.contains("is not valid UTF-8"))
        // A script's own --user after `run FILE` is the script's business.
        let passthrough = try shell(#"exec "$0" --db "$1" --user ana run -e 'print(keep.user, ...)' -- --user "$(printf '\377')""#)
        #expect(passthrough.status == 0, "\(passthrough.stderr)")
    }

    func shell(_ script: String) throws -> KeepBinary.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script, KeepBinary.path, db]
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path]
        process.currentDirectoryURL = directory
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        return try KeepBinary.finish(process)
    }

    @Test func keepAsAndDotUserFollowTheSameRule() throws {
        let result = try run(["--user", "ana"], """
            print(pcall(keep.as, " bob", function() end))
            print(pcall(keep.as, "bob\\0", function() end))
            print(pcall(keep.as, "a\\255", function() end))
            keep.as("Zoe\\u{308}", function() print(keep.user == "Zo\\u{EB}") end)
            print(keep.user)
            """)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 5, "\(result.stdout) \(result.stderr)")
        #expect(lines[0].hasPrefix("false\tinvalid: the user id ' bob' starts or ends with white space"))
        #expect(lines[1].hasPrefix("false\tinvalid: the user id 'bob\\0' contains the control character U+0000"))
        #expect(lines[2].hasPrefix("false\tinvalid: the user id 'a\u{FFFD}' is not valid UTF-8"))
        #expect(Array(lines[3...]) == ["true", "ana"])
        let repl = try KeepBinary.run(["--db", db, "repl"], stdin: ".user a\tb\n.user Zoe\u{308}\nkeep.user == 'Zo\u{EB}'\n",
                                      directory: directory,
                                      environment: ["PATH": "/usr/bin:/bin", "HOME": directory.path, "KEEP_USER": "ana"])
        #expect(repl.stdout == "acting as Zo\u{EB}\ntrue\n", "\(repl.stderr)")
        #expect(repl.stderr.hasPrefix("invalid: the user id 'a\\tb' contains the control character U+0009; a user id is"))
    }
}
