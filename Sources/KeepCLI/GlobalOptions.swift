import ArgumentParser
import KeepCore
import KeepPolicy
import KeepRuntime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Options every command shares (SPEC §6). Flags override the KEEP_* environment.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The database: a file (default ./keep.sqlite, or $KEEP_DB), or postgres://USER[:PASS]@HOST[:PORT]/DB.", valueName: "PATH|URL"))
    var db: String?

    @Option(help: ArgumentHelp("The acting user (default $KEEP_USER, else $USER): 1 to 128 bytes of UTF-8, no control characters, no white space at either end.", valueName: "ID"))
    var user: String?

    @Option(help: ArgumentHelp("The policy folder (default ./policies if it exists, else the shipped scripts/policies; or $KEEP_POLICIES).", valueName: "DIR"))
    var policies: String?

    @Option(name: .customLong("jobs"), help: ArgumentHelp("When a job an operation queues runs: inline (at once, the default) or queue (only by 'keep jobs work'); or $KEEP_JOBS.", valueName: "inline|queue"))
    var jobMode: String?

    /// `--jobs`, else $KEEP_JOBS, else inline (checked by `validate`).
    var jobs: JobMode {
        (jobMode ?? environment("KEEP_JOBS")).flatMap(JobMode.init(rawValue:)) ?? .inline
    }

    /// The policy folder to load: the flag, $KEEP_POLICIES, ./policies, or the
    /// shipped defaults found above the executable (a checkout's scripts/policies).
    var policyDirectory: String? {
        if let policies { return policies }
        if let fromEnvironment = environment("KEEP_POLICIES") { return fromEnvironment }
        if access("policies/validation.lua", F_OK) == 0 { return "policies" }
        var directory = Self.executableDirectory
        for _ in 0 ..< 6 {
            let candidate = directory + "/scripts/policies"
            if access(candidate + "/validation.lua", F_OK) == 0 { return candidate }
            guard let slash = directory.lastIndex(of: "/"), slash != directory.startIndex else { break }
            directory = String(directory[..<slash])
        }
        return nil
    }

    static var executableDirectory: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return "." }
        let path = String(decoding: buffer[0 ..< length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    }

    var databasePath: String { db ?? environment("KEEP_DB") ?? "./keep.sqlite" }

    /// The acting user: `--user`, else $KEEP_USER, else $USER, validated
    /// (SPEC §1 "User ids"). None of them, or a bad one, ends the command with
    /// `invalid` and exit status 2: Keep never guesses who acts.
    func actingUser() -> UserID {
        do throws(KeepError) {
            if let user {
                return try UserID(checking: Self.rawArgument(of: "--user", parsedAs: user) ?? Array(user.utf8))
            }
            for name in ["KEEP_USER", "USER"] {
                if let value = getenv(name), value.pointee != 0 {
                    do throws(KeepError) {
                        return try UserID(checking: Self.bytes(value))
                    } catch {
                        throw KeepError(error.code, "$\(name): \(error.message)", details: error.details)
                    }
                }
            }
            throw KeepError(.invalid, "no user to act as: give --user ID, or set KEEP_USER (or USER); "
                + UserID.userIDRule)
        } catch {
            fail("keep: \(error)", status: ExitStatus.usage)
        }
    }

    func validate() throws {
        if user != nil { _ = actingUser() }
        if let mode = jobMode ?? environment("KEEP_JOBS"), JobMode(rawValue: mode) == nil {
            throw ValidationError("\(jobMode != nil ? "--jobs" : "$KEEP_JOBS") '\(mode)' is not a job mode; use inline or queue")
        }
        // A path that cannot name a database file, or a URL that cannot name
        // a PostgreSQL database, is a usage error, found before any work
        // (SQLite alone would only say "unable to open").
        do {
            _ = try DatabaseLocation(databasePath)
        } catch {
            let option = db != nil ? "--db" : "$KEEP_DB"
            if DatabaseLocation.isURL(databasePath) { throw ValidationError("\(option): \(error.message)") }
            throw ValidationError("\(option) \(databasePath.isEmpty ? "''" : databasePath): \(error.message)")
        }
        // A folder named on purpose must exist: refused here, before a banner
        // or a script runs, instead of failing every call later.
        let named = policies.map { ("--policies", $0) } ?? environment("KEEP_POLICIES").map { ("$KEEP_POLICIES", $0) }
        if let (source, directory) = named, let problem = PolicyFolder.problem(directory) {
            throw ValidationError("the policy folder \(directory) (\(source)) \(problem); give a folder that holds "
                + PolicySet.requiredFiles.joined(separator: ", "))
        }
    }

    /// The bytes of option `name`'s value as the process received them.
    /// Swift repairs invalid UTF-8 in `CommandLine.arguments` (into U+FFFD),
    /// which would make a different, valid id of it; argv still has the bytes.
    /// The last occurrence that decodes to the parsed `value` is taken (a
    /// script's own `--user` after `run FILE` is not Keep's).
    static func rawArgument(of name: String, parsedAs value: String) -> [UInt8]? {
        let arguments = (0 ..< Int(CommandLine.argc)).map { CommandLine.unsafeArgv[$0].map { bytes($0) } ?? [] }
        let flag = Array(name.utf8), inline = flag + [UInt8(ascii: "=")]
        var found: [UInt8]?
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            var candidate: [UInt8]?
            if argument == flag, index + 1 < arguments.count {
                candidate = arguments[index + 1]
                index += 1
            } else if argument.starts(with: inline) {
                candidate = Array(argument.dropFirst(inline.count))
            }
            if let candidate, String(decoding: candidate, as: UTF8.self) == value { found = candidate }
            index += 1
        }
        return found
    }

    /// The bytes of a C string, as they are (no UTF-8 repair).
    static func bytes(_ text: UnsafePointer<CChar>) -> [UInt8] {
        UnsafeRawBufferPointer(start: text, count: strlen(text)).map { $0 }
    }

    /// What the command's services are built from. `policies: false` runs on
    /// the built-in defaults (`migrate status` runs no script, so a broken
    /// policy folder must not hide it); `readOnly` opens the database without
    /// writing (`migrate status`, dry runs). Problems that must not stop the
    /// command (a failed reload, waiting for a write lock) go to stderr.
    func runtime(holder: String, readOnly: Bool = false, policies: Bool = true,
                 watchPolicies: Bool = false, longRunning: Bool = false) -> RuntimeConfiguration {
        var configuration = RuntimeConfiguration(database: databasePath, policyDirectory: policies ? policyDirectory : nil,
                                                 watchPolicies: watchPolicies, readOnly: readOnly, holder: holder, jobs: jobs,
                                                 warn: { Console.error("keep: warning: " + $0) },
                                                 notice: { Console.error("keep: " + $0) })
        configuration.longRunning = longRunning
        return configuration
    }

    /// What `--db` names (checked by `validate`).
    var database: DatabaseLocation {
        get throws { try DatabaseLocation(databasePath) }
    }

    /// SPEC §6 puts the global options before the command (`keep --db x run …`);
    /// each subcommand declares them, so move any found there after its name
    /// (the leaf command's, for groups such as `keep jobs list`: the command
    /// tree of `root`'s configuration says which words name groups).
    static func movedAfterSubcommand(_ arguments: [String], root: ParsableCommand.Type = Keep.self) -> [String] {
        let names: Set<String> = ["--db", "--user", "--policies", "--jobs"]
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
        var leaf = index
        var command = root
        while let next = command.configuration.subcommands.first(where: { $0._commandName == arguments[leaf] }) {
            command = next
            guard !next.configuration.subcommands.isEmpty, leaf + 1 < arguments.count else { break }
            leaf += 1
        }
        return Array(arguments[index ... leaf]) + moved + arguments[(leaf + 1)...]
    }

    /// The environment variable `name`; nil when unset or empty.
    func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

/// The services a command opened, closed when the command ends (also
/// through `fail`), so that the file alone holds the result: no `-wal` or
/// `-shm` file is left beside it, and a server's connections close cleanly.
enum CommandServices {
    private static let opened = Mutex<[@Sendable () throws -> Void]>([])

    /// Opens and registers the services `configuration` describes.
    static func open(_ configuration: RuntimeConfiguration) throws -> KeepServices {
        let services = try KeepServices(configuration)
        opened.withLock { $0.append(services.close) }
        return services
    }

    /// Opens and registers one database alone (`keep db copy`).
    static func open(_ location: DatabaseLocation, readOnly: Bool = false) throws -> DatabaseBackend {
        let backend = try DatabaseBackend(location, readOnly: readOnly, notice: { Console.error("keep: " + $0) })
        opened.withLock { $0.append(backend.close) }
        return backend
    }

    /// Closes everything registered; a failure to close is a warning.
    static func closeAll() {
        for close in opened.withLock({ list in defer { list = [] }; return list }) {
            do {
                try close()
            } catch {
                Console.error("keep: warning: \(error)")
            }
        }
    }
}
