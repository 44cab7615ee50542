import ArgumentParser
import KeepCore
import KeepLua
import KeepScripting
#if canImport(Glibc)
import Glibc
#endif

extension Keep {
    /// `keep run FILE [ARGS…]` and `keep run -e CODE`.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a Lua script (trusted by default; --sandbox to confine it).",
            discussion: """
                The script gets its arguments in `arg` (arg[0] is the script) and as `...`.
                Trusted scripts see Lua's whole standard library, like the `lua` command;
                with --sandbox they see the allow-listed environment of policies and
                migrations, and `require` is confined to the script's folder.
                Ctrl-C stops a running script (exit status 130).
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(name: .customShort("e"), help: ArgumentHelp("Run CODE instead of a file.", valueName: "CODE"))
        var code: String?

        @Flag(help: "Run in the sandbox (allow-listed globals, confined require, text-only load).")
        var sandbox = false

        @OptionGroup var limits: BudgetOptions

        @Argument(help: ArgumentHelp("The script file ('-' reads standard input).", valueName: "FILE"))
        var file: String?

        @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("Arguments for the script.", valueName: "ARGS"))
        var arguments: [String] = []

        func validate() throws {
            if code == nil && file == nil, let first = arguments.first, first.hasPrefix("-") {
                throw ValidationError("unknown option '\(first)'")
            }
            if code == nil && file == nil {
                throw ValidationError("give a script FILE or -e CODE")
            }
        }

        func run() throws {
            let scriptArguments: [String]
            let chunkName: String
            let source: [UInt8]
            let root: String
            if let code {
                // With -e, a FILE operand is the first script argument.
                scriptArguments = (file.map { [$0] } ?? []) + arguments
                chunkName = "=(command line)"
                source = Array(code.utf8)
                root = "."
            } else {
                let file = file!
                scriptArguments = arguments
                do {
                    source = file == "-" ? try Quantity.readStandardInput() : try ScriptFile.read(file)
                } catch {
                    fail("keep: \(error)", status: ExitStatus.failure)
                }
                chunkName = file == "-" ? "=stdin" : "@" + file
                root = ScriptFile.directory(of: file)
            }

            let (state, context) = global.scriptState(trust: sandbox ? .sandboxed(roots: [root]) : .trusted,
                                                holder: "keep-run:\(getpid())")
            let stack = state.stack
            do {
                try state.load(source, chunkName: chunkName, mode: sandbox ? .text : .textOrBinary)
                // arg table in the chunk's environment, as the `lua` command does.
                stack.newTable(arrayCapacity: Int32(clamping: scriptArguments.count))
                stack.push(code == nil ? file! : "-e")
                stack.setIndex(0, of: -2)
                for (index, argument) in scriptArguments.enumerated() {
                    stack.push(argument)
                    stack.setIndex(Int64(index + 1), of: -2)
                }
                state.pushEnvironment(ofFunctionAt: -2)
                stack.pushCopy(of: -2)
                stack.setField("arg", of: -2)
                stack.pop(2)
                try stack.reserve(Int32(clamping: scriptArguments.count) + 2)
                for argument in scriptArguments { stack.push(argument) }
                LuaState.installInterruptHandler()
                defer { LuaState.restoreInterruptHandler() }
                try state.call(arguments: Int32(scriptArguments.count), results: 0, budget: try limits.budget())
                Console.flush()
                context.finish()
            } catch let error as LuaError {
                Console.flush()
                // Unsaved working copies are journaled whatever stopped the script.
                context.finish()
                var report = "keep: \(error)"
                if let traceback = error.traceback, !traceback.isEmpty { report += "\n" + traceback }
                let interrupted = error.keepError?.code == .interrupted
                fail(report, status: interrupted ? ExitStatus.interrupted : ExitStatus.failure)
            } catch {
                context.finish()
                fail("keep: \(error)", status: ExitStatus.failure)
            }
        }
    }
}
