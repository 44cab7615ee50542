import ArgumentParser
import KeepCore
#if canImport(Glibc)
import Glibc
#endif

/// Options every command shares (SPEC §6). Flags override the KEEP_* environment.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The database file (default ./keep.sqlite, or $KEEP_DB).", valueName: "PATH"))
    var db: String?

    @Option(help: ArgumentHelp("The acting user (default $KEEP_USER, else $USER).", valueName: "ID"))
    var user: String?

    var databasePath: String { db ?? environment("KEEP_DB") ?? "./keep.sqlite" }

    var actingUser: String { user ?? environment("KEEP_USER") ?? environment("USER") ?? "user" }

    func validate() throws {
        if let user, user.isEmpty || user.utf8.count > 200 {
            throw ValidationError("--user must be 1 to 200 characters")
        }
    }

    /// SPEC §6 puts the global options before the command (`keep --db x run …`);
    /// each subcommand declares them, so move any found there after its name.
    static func movedAfterSubcommand(_ arguments: [String]) -> [String] {
        let names: Set<String> = ["--db", "--user"]
        var moved: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.prefix { $0 != "=" })
            guard names.contains(name) else { break }
            moved.append(argument)
            if !argument.contains("="), index + 1 < arguments.count {
                moved.append(arguments[index + 1])
                index += 1
            }
            index += 1
        }
        guard !moved.isEmpty, index < arguments.count else { return arguments }
        // Command groups (`keep jobs list`) take the options after their leaf command.
        let groups: Set<String> = ["jobs"]
        let leaf = groups.contains(arguments[index]) && index + 1 < arguments.count ? index + 1 : index
        return Array(arguments[index ... leaf]) + moved + arguments[(leaf + 1)...]
    }

    private func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}
