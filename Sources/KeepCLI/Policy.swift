import ArgumentParser
import KeepCore
import KeepPolicy
import KeepStore

extension Keep {
    /// `keep policy check [DIR]`.
    struct Policy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check policy scripts.",
            subcommands: [Check.self, Test.self]
        )

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Load a policy folder and report what it holds or what is wrong.")
            @OptionGroup var folder: PolicyFolderOptions

            func run() throws {
                let directory = folder.resolved
                do {
                    let policies = try PolicySet(directory: directory, clock: KeepClock.system.now)
                    print("\(directory): ok — \(policies.files.joined(separator: ", "))")
                    print("  autosave_debounce_ms = \(policies.save.autosaveDebounceMilliseconds), poll_interval_ms = \(policies.save.pollIntervalMilliseconds)")
                } catch {
                    var report = "keep: \(error)"
                    if let traceback = error.details["traceback"]?.text, !traceback.isEmpty { report += "\n" + traceback }
                    fail(report, status: ExitStatus.failure)
                }
            }
        }
    }
}

extension Keep.Policy {
    /// `keep policy test [DIR]`: runs the folder's `*_test.lua` files.
    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a policy folder's *_test.lua files (describe / it / expect).")
        @OptionGroup var folder: PolicyFolderOptions
        @Option(name: .customLong("run"), help: ArgumentHelp("Run only the tests whose full name (\"describe › it\") contains PATTERN, or matches it as a Lua pattern.",
                                   valueName: "PATTERN"))
        var pattern: String?

        func validate() throws {
            if pattern?.isEmpty == true { throw ValidationError("--run needs a pattern, e.g. --run 'validation › rejects'") }
        }

        func run() throws {
            let directory = folder.resolved
            let report: PolicyTestRunner.Report
            do {
                report = try PolicyTestRunner.run(directory: directory, matching: pattern, clock: KeepClock.system.now)
            } catch {
                fail("keep: \(error)", status: ExitStatus.failure)
            }
            for line in report.lines { print(line) }
            print("\(report.passed) passed, \(report.failed) failed")
            if report.failed > 0 { throw ExitCode(ExitStatus.failure) }
        }
    }
}

/// The folder a `keep policy` subcommand works on, with the options that find it.
struct PolicyFolderOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The policy folder (default: as --policies).")
    var directory: String?

    /// The argument, else the usual lookup.
    var resolved: String {
        guard let directory = directory ?? global.policyDirectory else {
            fail("keep: invalid: no policy folder: give DIR, --policies, $KEEP_POLICIES, or create ./policies",
                 status: ExitStatus.failure)
        }
        return directory
    }
}
