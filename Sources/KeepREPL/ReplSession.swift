import KeepCore
import KeepLua
#if canImport(Glibc)
import Glibc
#endif

/// The read–evaluate–print loop (SPEC §6 "The REPL").
///
/// At a terminal it shows a banner and prompts (`> `, `...> ` while input is
/// incomplete) and reads with `LineEditor`; otherwise it reads standard input
/// plainly, evaluates each complete chunk and prints its values, with no
/// prompts, banner, colours or line editing, so it can be piped.
public final class ReplSession {
    /// What the REPL needs from the program around it.
    public struct Host {
        /// The one-line banner (acting user, policy set, how to get help).
        public var banner: String
        /// `.user ID`: act as another user. Throws a message for a bad id.
        public var switchUser: (String) throws -> String
        /// Where keystrokes, focus and idleness go (at a terminal).
        public var activity: Activity?

        public init(banner: String, switchUser: @escaping (String) throws -> String, activity: Activity? = nil) {
            self.banner = banner
            self.switchUser = switchUser
            self.activity = activity
        }
    }

    /// The activity observer and the host's timers (SPEC §5).
    public struct Activity {
        /// Tells the observer, and runs the Lua subscribers of the changes made so far.
        public var set: (ActivityState) -> Void
        /// Runs the timers that are due (and the Lua subscribers, as `set` does).
        public var runTimers: () -> Void
        /// Milliseconds until the next timer is due (nil: none waits).
        public var nextTimer: () -> Int64?

        public init(set: @escaping (ActivityState) -> Void, runTimers: @escaping () -> Void,
                    nextTimer: @escaping () -> Int64?) {
            self.set = set
            self.runTimers = runTimers
            self.nextTimer = nextTimer
        }
    }

    public struct Options {
        /// Prompts, banner and line editing (standard input is a terminal).
        public var interactive: Bool
        /// ANSI colours (standard output is a terminal and NO_COLOR is unset).
        public var colours: Bool
        public var historyPath: String?
        /// The start-up file to run first, if it exists.
        public var startupFile: String?

        public init(interactive: Bool, colours: Bool, historyPath: String?, startupFile: String?) {
            self.interactive = interactive
            self.colours = colours
            self.historyPath = historyPath
            self.startupFile = startupFile
        }
    }

    let evaluator: ReplEvaluator
    let host: Host
    let options: Options
    let style: Style
    /// `.time`: print how long each evaluation took.
    var timing = false
    /// The last chunk evaluated, which `.edit` starts from.
    var lastChunk = ""
    /// Whether an evaluation failed (piped input then exits 1).
    private(set) var failed = false
    var editor: LineEditor?
    private var feed: ActivityFeed?

    public init(evaluator: ReplEvaluator, host: Host, options: Options) {
        self.evaluator = evaluator
        self.host = host
        self.options = options
        style = Style(enabled: options.colours)
    }

    /// Runs until end of input or `.exit`; returns the exit status: 0, 1 when
    /// piped input had an error, 130 when Ctrl-C stopped piped input (while
    /// a chunk ran or while waiting for input).
    public func run() -> Int32 {
        LuaState.installInterruptHandler()
        defer { LuaState.restoreInterruptHandler() }
        if options.interactive {
            write(style.dim(host.banner) + "\n")
            let completer = Completer(evaluator: evaluator)
            editor = LineEditor(historyPath: options.historyPath) { completer.complete($0) }
            if let activity = host.activity {
                let feed = ActivityFeed(activity: activity)
                self.feed = feed
                editor?.waiting = feed
                editor?.focusReporting = Self.terminalReportsFocus()
            }
        }
        if let startupFile = options.startupFile, access(startupFile, F_OK) == 0 {
            if case .stop(let status) = load(startupFile) { return status }
        }
        return options.interactive ? interactiveLoop() : pipedLoop()
    }

    /// What the loop does after an input.
    enum Next: Equatable {
        case proceed
        case stop(Int32)
    }

    private func interactiveLoop() -> Int32 {
        guard let editor else { return 0 }
        var pending: [String] = []
        while true {
            let prompt = pending.isEmpty ? "> " : "...> "
            switch editor.readLine(prompt: prompt) {
            case .endOfInput:
                write("\n")
                return 0
            case .interrupted:
                pending = []
            case .line(let line):
                if pending.isEmpty, let command = DotCommand(line) {
                    editor.remember(line)
                    if case .stop(let status) = perform(command) { return status }
                    continue
                }
                if pending.isEmpty && line.allSatisfy(\.isWhitespace) { continue }
                pending.append(line)
                let chunk = pending.joined(separator: "\n")
                if case .incomplete = evaluateAndShow(chunk, chunkName: "=stdin", final: false) { continue }
                editor.remember(chunk)
                pending = []
                feed?.evaluated()
            }
        }
    }

    private func pipedLoop() -> Int32 {
        var input = StandardInput()
        var pending: [String] = []
        var firstLine = 1
        var lineNumber = 0
        while let line = input.nextLine() {
            lineNumber += 1
            if pending.isEmpty, let command = DotCommand(line) {
                // `.exit` ends the input; earlier failures still decide the status.
                if case .stop(let status) = perform(command) { return status == 0 && failed ? 1 : status }
                continue
            }
            if pending.isEmpty {
                if line.allSatisfy(\.isWhitespace) { continue }
                firstLine = lineNumber
            }
            pending.append(line)
            // Line numbers in messages count from the start of the input.
            switch evaluateAndShow(pending.joined(separator: "\n"), chunkName: "=stdin", firstLine: firstLine, final: false) {
            case .incomplete: continue
            case .failure(let failure) where failure.interrupted: return 130
            default: pending = []
            }
        }
        if input.interrupted { return 130 }
        if !pending.isEmpty {
            if case .failure(let failure) = evaluateAndShow(pending.joined(separator: "\n"), chunkName: "=stdin",
                                                            firstLine: firstLine, final: true),
               failure.interrupted {
                return 130
            }
        }
        return failed ? 1 : 0
    }

    /// Evaluates a chunk and prints its values or its error (and its time
    /// with `.time`). With `final`, incomplete input is reported as the
    /// syntax error it is. A `typed` chunk is what `.edit` starts from next.
    @discardableResult
    func evaluateAndShow(_ chunk: String, chunkName: String, firstLine: Int = 1, final: Bool,
                         typed: Bool = true) -> ReplEvaluator.Outcome {
        let started = ContinuousClock.now
        var outcome = evaluator.evaluate(chunk, chunkName: chunkName, firstLine: firstLine)
        let elapsed = ContinuousClock.now - started
        if case .incomplete = outcome {
            guard final else { return outcome }
            outcome = .failure(evaluator.syntaxError(chunk, chunkName: chunkName, firstLine: firstLine))
        }
        if typed { lastChunk = chunk }
        switch outcome {
        case .incomplete: break
        case .values(let values):
            if !values.isEmpty { write(values.joined(separator: "\t") + "\n") }
        case .failure(let failure):
            // The terminal echoed ^C without a newline.
            if failure.interrupted && options.interactive { write("\n") }
            report(failure.text)
        }
        if timing { write(style.dim("(\(Self.describe(elapsed)))") + "\n") }
        return outcome
    }

    /// Runs a file as if its text were typed at once (`.load`, the start-up
    /// file). A first line starting with `#` (`#!/usr/bin/env lua`) is
    /// skipped, as `lua` does, keeping the line numbers.
    func load(_ path: String) -> Next {
        var text: String
        do {
            text = try Self.read(path)
        } catch {
            report("\(error)")
            return .proceed
        }
        if text.hasPrefix("#") { text = String(text.drop { $0 != "\n" }) }
        if case .failure(let failure) = evaluateAndShow(text, chunkName: "@" + path, final: true, typed: false),
           failure.interrupted, !options.interactive {
            return .stop(130)
        }
        return .proceed
    }

    /// Focus reporting is asked of terminals that can be expected to know it
    /// (not `dumb`; `KEEP_FOCUS_EVENTS=0` turns it off).
    static func terminalReportsFocus() -> Bool {
        if let setting = getenv("KEEP_FOCUS_EVENTS"), String(cString: setting) == "0" { return false }
        guard let term = getenv("TERM").map({ String(cString: $0) }) else { return false }
        return !term.isEmpty && term != "dumb"
    }

    // MARK: Output

    func write(_ text: String) { Output.write(text) }

    /// Reports a problem on standard error; piped input then exits 1.
    func report(_ text: String) {
        failed = true
        Output.error(style.error(text))
    }

    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        if milliseconds < 1 { return "\(Int((milliseconds * 1000).rounded())) µs" }
        if milliseconds < 1000 { return "\((milliseconds * 100).rounded() / 100) ms" }
        return "\((milliseconds / 10).rounded() / 100) s"
    }

    /// A whole file as text; an error names the file and the reason.
    static func read(_ path: String) throws -> String {
        guard let file = fopen(path, "rb") else {
            throw ReplError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count > 0 { bytes += buffer[0 ..< count] }
            if count < buffer.count {
                if ferror(file) != 0 { throw ReplError("cannot read \(path): \(String(cString: strerror(errno)))") }
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A problem the REPL reports as it is (`.load` of a missing file, a bad command).
struct ReplError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
