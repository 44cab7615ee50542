import ArgumentParser
import KeepLua
import KeepSQLite
#if canImport(Glibc)
import Glibc
#endif

/// The `keep` command (SPEC §6).
@main
struct Keep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keep",
        abstract: "Sessions and snapshots, steered by Lua.",
        discussion: """
            Exit codes: 0 success; 1 script or domain error; 2 usage error; 130 interrupted.
            Environment: KEEP_DB, KEEP_USER, KEEP_POLICIES, KEEP_JOBS (flags override them).
            """,
        version: versionText,
        subcommands: [Repl.self, Run.self, Jobs.self, Policy.self, Migrate.self, Db.self, Serve.self],
        defaultSubcommand: Repl.self
    )

    /// ArgumentParser's own entry point exits 64 on usage errors; Keep's
    /// contract is 2 (SPEC §6), so parsing errors are reported here.
    static func main() {
        let arguments = GlobalOptions.movedAfterSubcommand(Array(CommandLine.arguments.dropFirst()))
        checkCommandNames(arguments)
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                // `keep --frobnicate` reaches the default command (repl); the
                // user was at `keep`'s level, so show keep's usage, not repl's.
                if arguments.first?.hasPrefix("-") == true {
                    let commands = configuration.subcommands.map { $0._commandName }.joined(separator: ", ")
                    fail("Error: \(message(for: error))\n"
                        + "Usage: keep [--db PATH] [--user ID] [--policies DIR] [--jobs inline|queue] <subcommand> …\n"
                        + "  The commands are \(commands); without one keep runs the REPL.\n"
                        + "  See 'keep --help' (and 'keep repl --help' for the REPL's options).",
                         status: ExitStatus.usage)
                }
                fail(fullMessage(for: error), status: ExitStatus.usage)
            }
            Self.exit(withError: error)
        }
    }

    /// A word where a command's name belongs that names none (`keep jobs lst`)
    /// is a usage error naming the word and the commands there are; the
    /// parser alone would call it an "unexpected argument".
    static func checkCommandNames(_ arguments: [String]) {
        var command: ParsableCommand.Type = Keep.self
        var path = ["keep"]
        for word in arguments {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty, !word.hasPrefix("-"), word != "help" else { return }
            let names = subcommands.map { $0._commandName }
            guard let position = names.firstIndex(of: word) else {
                fail("Error: unknown command '\(word)' for '\(path.joined(separator: " "))'; the commands are "
                    + names.joined(separator: ", ") + "\n  See '\(path.joined(separator: " ")) --help'.",
                     status: ExitStatus.usage)
            }
            command = subcommands[position]
            path.append(word)
        }
    }

    /// `keep --version`: Keep's version and the Lua and SQLite it runs on.
    static var versionText: String {
        "keep \(KeepVersion.current) (\(LuaState.release), SQLite \(SQLiteBackend.sqliteVersion))"
    }
}

/// Keep's own version, printed by `keep --version`.
enum KeepVersion {
    static let current = "0.1.0"
}

/// Process exit statuses (SPEC §6).
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 2
    static let interrupted: Int32 = 130
}
