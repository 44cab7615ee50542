import ArgumentParser
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
            Environment: KEEP_DB, KEEP_USER, KEEP_POLICIES (flags override them).
            """,
        subcommands: [Repl.self, Run.self, Jobs.self, Policy.self, Migrate.self],
        defaultSubcommand: Repl.self
    )

    /// ArgumentParser's own entry point exits 64 on usage errors; Keep's
    /// contract is 2 (SPEC §6), so parsing errors are reported here.
    static func main() {
        do {
            var command = try parseAsRoot(GlobalOptions.movedAfterSubcommand(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                fail(fullMessage(for: error), status: ExitStatus.usage)
            }
            Self.exit(withError: error)
        }
    }
}

/// Process exit statuses (SPEC §6).
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 2
    static let interrupted: Int32 = 130
}
