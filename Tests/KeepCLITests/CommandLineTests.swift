import Foundation
import Testing

/// What `keep` says about itself and about commands it does not know (SPEC §6).
@Suite struct CommandLineTests {
    @Test func versionNamesKeepLuaAndSQLite() throws {
        let result = try KeepBinary.run(["--version"])
        #expect(result.status == 0)
        let pattern = #/^keep \d+\.\d+\.\d+ \(Lua 5\.4\.\d+, SQLite 3\.\d+\.\d+\)\n$/#
        #expect(result.stdout.wholeMatch(of: pattern) != nil, "\(result.stdout)")
        #expect(try KeepBinary.run(["--help"]).stdout.contains("--version"))
    }

    @Test func anUnknownOptionShowsKeepsUsageNotTheRepls() throws {
        let result = try KeepBinary.run(["--frobnicate"])
        #expect(result.status == 2)
        #expect(result.stderr == """
            Error: Unknown option '--frobnicate'
            Usage: keep [--db PATH] [--user ID] [--policies DIR] [--jobs inline|queue] <subcommand> …
              The commands are repl, run, jobs, policy, migrate, db, serve; without one keep runs the REPL.
              See 'keep --help' (and 'keep repl --help' for the REPL's options).

            """, "\(result.stderr)")
        #expect(!result.stderr.contains("--norc"), "repl's options are not keep's usage")
        #expect(result.stdout == "")
    }

    @Test func anUnknownCommandIsNamedWithTheValidOnes() throws {
        let jobs = try KeepBinary.run(["jobs", "lst"])
        #expect(jobs.status == 2)
        #expect(jobs.stderr == "Error: unknown command 'lst' for 'keep jobs'; the commands are list, run, retry, work\n"
            + "  See 'keep jobs --help'.\n")
        let moved = try KeepBinary.run(["--db", "x.sqlite", "migrate", "stauts"])
        #expect(moved.status == 2)
        #expect(moved.stderr.hasPrefix("Error: unknown command 'stauts' for 'keep migrate'; the commands are status, plan, up, rollback, new"))
        let root = try KeepBinary.run(["jbos"])
        #expect(root.status == 2)
        #expect(root.stderr.hasPrefix("Error: unknown command 'jbos' for 'keep'; the commands are repl, run, jobs, policy, migrate"))
        // Known commands and help still work.
        #expect(try KeepBinary.run(["help", "jobs"]).stdout.contains("retry"))
        #expect(try KeepBinary.run(["jobs", "--help"]).status == 0)
    }
}
