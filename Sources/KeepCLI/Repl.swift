import ArgumentParser
import KeepLua
import KeepREPL
import KeepScripting
#if canImport(Glibc)
import Glibc
#endif

extension Keep {
    /// `keep repl`, also what `keep` alone runs (SPEC §6 "The REPL").
    struct Repl: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Interactive Lua shell over your sessions and snapshots (the default command).",
            discussion: "Expressions print their values and locals stay defined between lines; type .help at the "
                + "prompt for the commands and a tour of the keep API. History is kept in ~/.keep_history (or "
                + "$KEEP_HISTORY); ~/.keeprc.lua runs first unless --norc. The limits apply to each evaluation; "
                + "Ctrl-C stops one.\n\n"
                + "When standard input is not a terminal, each complete chunk is evaluated and its values printed, "
                + "with no prompts; the exit status is 1 if a chunk failed, 130 on Ctrl-C."
        )

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Run in the sandbox (allow-listed globals, confined require, text-only load).")
        var sandbox = false

        @Flag(name: .customLong("norc"), help: "Do not run the start-up file ~/.keeprc.lua.")
        var noStartupFile = false

        @OptionGroup var limits: BudgetOptions

        func run() throws {
            let (state, context) = global.scriptState(trust: sandbox ? .sandboxed(roots: ["."]) : .trusted,
                                                      holder: "keep-repl:\(getpid())")
            let evaluator: ReplEvaluator
            do {
                evaluator = try ReplEvaluator(state: state, budget: try limits.budget())
            } catch let error as LuaError {
                fail("keep: \(error)", status: ExitStatus.failure)
            }
            // The REPL's loop runs on the state's thread: Lua subscribers run here, after the observer has the change.
            let activity = ReplSession.Activity(
                set: { new in
                    context.activity.set(new)
                    KeepAPI.deliverActivity(in: state)
                },
                runTimers: {
                    context.runDueTimers()
                    KeepAPI.deliverActivity(in: state)
                },
                nextTimer: { context.timers.nextDeadline.map { $0.millisecondsSinceEpoch - context.clock.now().millisecondsSinceEpoch } })
            let host = ReplSession.Host(banner: banner(user: context.user), switchUser: { user in
                "acting as \(try KeepAPI.switchUser(to: user, in: state, context: context))"
            }, activity: activity)
            let interactive = isatty(STDIN_FILENO) == 1
            let home = global.environment("HOME")
            let options = ReplSession.Options(
                interactive: interactive,
                colours: interactive && isatty(STDOUT_FILENO) == 1 && global.environment("NO_COLOR") == nil,
                historyPath: Self.historyPath(global: global, home: home),
                startupFile: noStartupFile ? nil : home.map { $0 + "/.keeprc.lua" })
            let status = ReplSession(evaluator: evaluator, host: host, options: options).run()
            context.finish()
            Console.flush()
            Glibc.exit(status)
        }

        /// $KEEP_HISTORY, else ~/.keep_history; set but empty, no history file.
        static func historyPath(global: GlobalOptions, home: String?) -> String? {
            if let value = getenv("KEEP_HISTORY"), value.pointee == 0 { return nil }
            return global.environment("KEEP_HISTORY") ?? home.map { $0 + "/.keep_history" }
        }

        /// One line: who acts, on which database, under which policies, and how to get help.
        private func banner(user: String) -> String {
            var policies = "built-in default policies"
            if let directory = global.policyDirectory {
                let chosen = global.policies != nil || global.environment("KEEP_POLICIES") != nil || directory == "policies"
                policies = "policies: " + Self.relativeToWorkingDirectory(directory) + (chosen ? "" : " (shipped)")
            }
            return "Keep REPL (Lua 5.4) · acting as \(user) · \((try? global.database.label) ?? global.databasePath) · \(policies)"
                + (sandbox ? " · sandboxed" : "") + " · .help for help"
        }

        /// `path` without the working directory in front, when it is below it.
        private static func relativeToWorkingDirectory(_ path: String) -> String {
            var buffer = [CChar](repeating: 0, count: 4096)
            guard getcwd(&buffer, buffer.count) != nil else { return path }
            let directory = String(cString: buffer)
            return path.hasPrefix(directory + "/") ? String(path.dropFirst(directory.count + 1)) : path
        }
    }
}
