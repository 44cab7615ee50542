import CEditLine
import Foundation
import KeepLua
#if canImport(Glibc)
import Glibc
#endif

/// Line editing at a terminal with libedit (emacs keys, `~/.editrc`):
/// history kept in a file, tab completion, Ctrl-C that clears the line.
///
/// The one owner of an `EditLine` and its `History`. libedit's callbacks find
/// the editor through `EL_CLIENTDATA`.
///
/// Every keystroke passes through `readCharacter`, which reads the terminal
/// itself (`EL_GETCFN`) rather than letting libedit do it: that is where Ctrl-C
/// at the prompt is seen, and where `waiting` learns of keystrokes, of the
/// terminal's focus and, with a timeout on the read, of idleness.
public final class LineEditor {
    /// Told what happens while the editor waits for keys (the REPL's activity feed).
    public protocol Waiting: AnyObject {
        /// How long to wait for a key before `idle()`, in ms (nil: as long as it takes).
        func waitLimit() -> Int64?
        func idle()
        func keystroke()
        func focus(_ focused: Bool)
    }

    /// What one `readLine` got.
    public enum Input: Equatable {
        /// A line (or a whole multi-line history entry), without its final newline.
        case line(String)
        /// Ctrl-C: the line was dropped.
        case interrupted
        /// Ctrl-D on an empty line, or the terminal went away.
        case endOfInput
    }

    /// Entries kept in memory and in the history file.
    public static let historySize: Int32 = 1000

    private let editLine: OpaquePointer
    private let history: OpaquePointer
    /// Where history is saved; nil when it is kept in memory only.
    private let historyPath: String?
    private let complete: (String) -> Completer.Completion
    /// The prompt libedit shows, as a C string (malloc'd) its prompt callback returns.
    private var prompt: UnsafeMutablePointer<CChar>?
    private var interrupted = false
    private var reportedSaveFailure = false
    /// Bytes read ahead while looking for a focus report, not yet handed to libedit.
    private var readAhead: [UInt8] = []
    public weak var waiting: (any Waiting)?
    /// Asks the terminal to report focus changes while a line is read (DEC
    /// mode 1004; terminals without it ignore the request).
    public var focusReporting = false

    /// `historyPath` nil keeps history in memory only.
    public init(historyPath: String?, complete: @escaping (String) -> Completer.Completion) {
        self.complete = complete
        // libedit's setup reads the terminal database and the locale through
        // process-wide state: editors made at once on several threads (the
        // tests) would crash in it.
        Self.setupLock.lock()
        defer { Self.setupLock.unlock() }
        _ = Self.utf8Locale
        editLine = keepel_init("keep")
        history = history_init()
        keephist_setsize(history, Self.historySize)
        keephist_setunique(history, 1)
        // A file that holds something other than libedit history is never overwritten;
        // neither is anything but a regular file (/dev/null, a pipe: history off).
        var file = stat()
        if let historyPath, stat(historyPath, &file) == 0, file.st_mode & S_IFMT != S_IFREG {
            self.historyPath = nil
        } else if let historyPath, stat(historyPath, &file) == 0, file.st_size > 0,
                  keephist_load(history, historyPath) < 0 {
            Output.error("keep: warning: \(historyPath) is not a history file; this session's history will not be saved")
            self.historyPath = nil
        } else {
            self.historyPath = historyPath
        }

        keepel_set_clientdata(editLine, Unmanaged.passUnretained(self).toOpaque())
        keepel_set_emacs(editLine)
        // The user's ~/.editrc first; the bindings the REPL relies on after it.
        el_source(editLine, nil)
        // libedit restores the terminal before Ctrl-Z suspends (or Ctrl-\
        // quits) and returns to raw mode and redraws the line on `fg`.
        keepel_set_signal(editLine, 1)
        keepel_set_history(editLine, history)
        keepel_set_prompt(editLine) { el in LineEditor.owner(of: el)?.prompt }
        keepel_set_getc(editLine) { el, character in
            guard let editor = LineEditor.owner(of: el), let character else { return -1 }
            return editor.readCharacter(into: character)
        }
        keepel_add_function(editLine, "keep-complete", "Complete a Lua name") { el, _ in
            LineEditor.owner(of: el)?.completeWord() ?? UInt8(CC_ERROR)
        }
        keepel_bind(editLine, "^I", "keep-complete")
        keepel_add_function(editLine, "keep-interrupt", "Drop the line") { el, _ in
            LineEditor.owner(of: el)?.interrupted = true
            return UInt8(CC_EOF)
        }
        keepel_bind(editLine, "^C", "keep-interrupt")
        keepel_keep_ctrl_c_in_band(editLine)
    }

    deinit {
        Self.setupLock.lock()
        defer { Self.setupLock.unlock() }
        el_end(editLine)
        history_end(history)
        free(prompt)
    }

    private static let setupLock = NSLock()

    /// libedit converts between the terminal's bytes and its wide characters
    /// with the C library's character type: the user's locale, or C.UTF-8
    /// when that is not UTF-8 (Lua strings at the prompt are UTF-8). Set
    /// once: `setlocale` is not safe while other threads use the locale.
    private static let utf8Locale: Void = {
        if setlocale(LC_CTYPE, "") != nil, let codeset = nl_langinfo(nl_item(CODESET)), String(cString: codeset) == "UTF-8" {
            return
        }
        setlocale(LC_CTYPE, "C.UTF-8")
    }()

    private static func owner(of el: OpaquePointer?) -> LineEditor? {
        guard let el, let data = keepel_clientdata(el) else { return nil }
        return Unmanaged<LineEditor>.fromOpaque(data).takeUnretainedValue()
    }

    /// Shows `prompt` and reads a line with editing. (No colour: libedit
    /// writes a prompt's escape sequences out of order with its text.)
    public func readLine(prompt text: String) -> Input {
        free(prompt)
        prompt = strdup(text)
        interrupted = false
        _ = LuaState.takeInterrupt()
        if focusReporting { Output.write("\u{1B}[?1004h") }
        fflush(nil)
        var count: Int32 = 0
        let line = el_gets(editLine, &count)
        if focusReporting { Output.write("\u{1B}[?1004l") }
        if interrupted {
            Output.write("^C\n")
            return .interrupted
        }
        guard let line, count > 0 else { return .endOfInput }
        var text = String(cString: line)
        if text.hasSuffix("\n") { text.removeLast() }
        return .line(text)
    }

    /// Adds an entry (multi-line inputs as one) and saves the history file;
    /// returns whether the file was written. The first failure is reported
    /// on standard error; the REPL goes on with history in memory.
    @discardableResult
    public func remember(_ entry: String) -> Bool {
        guard !entry.allSatisfy(\.isWhitespace) else { return false }
        keephist_enter(history, entry)
        guard let historyPath else { return false }
        if keephist_save(history, historyPath) >= 0 { return true }
        if !reportedSaveFailure {
            reportedSaveFailure = true
            Output.error("keep: warning: cannot write the history file \(historyPath)")
        }
        return false
    }

    // MARK: libedit callbacks

    /// Reads one character (UTF-8) from the terminal for libedit: 1 when one
    /// was read, 0 at end of input, -1 when Ctrl-C (SIGINT) interrupted the read.
    /// Focus reports are taken out of the input and told to `waiting`.
    private func readCharacter(into character: UnsafeMutablePointer<wchar_t>) -> Int32 {
        var bytes: [UInt8] = []
        while true {
            if LuaState.takeInterrupt() {
                interrupted = true
                return -1
            }
            let byte: UInt8
            switch nextByte(waitingForKey: bytes.isEmpty) {
            case .byte(let read): byte = read
            case .idle: continue
            case .end: return 0
            case .failed: return -1
            }
            if bytes.isEmpty && byte == 0x1B, let focused = focusReport() {
                waiting?.focus(focused)
                continue
            }
            if bytes.isEmpty { waiting?.keystroke() }
            bytes.append(byte)
            let expected = bytes[0] < 0x80 ? 1 : bytes[0] >= 0xF0 ? 4 : bytes[0] >= 0xE0 ? 3 : 2
            guard bytes.count >= expected else { continue }
            if let scalar = String(validating: bytes, as: UTF8.self)?.unicodeScalars.first {
                character.pointee = wchar_t(scalar.value)
                return 1
            }
            bytes.removeAll()  // not UTF-8: dropped, as libedit itself does
        }
    }

    private enum ReadResult {
        case byte(UInt8)
        /// The wait limit passed without input (`waiting` was told).
        case idle
        case end
        case failed
    }

    /// The next byte: read ahead, or from the terminal. Between keys it waits
    /// at most `waiting`'s limit, then reports idleness.
    private func nextByte(waitingForKey: Bool) -> ReadResult {
        if !readAhead.isEmpty { return .byte(readAhead.removeFirst()) }
        if waitingForKey, let waiting, let limit = waiting.waitLimit() {
            var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(clamping: max(0, limit)))
            if ready == 0 {
                waiting.idle()
                return .idle
            }
            if ready < 0 { return errno == EINTR ? .idle : .failed }
        }
        var byte: UInt8 = 0
        do {
            let count = read(STDIN_FILENO, &byte, 1)
            if count == 1 { return .byte(byte) }
            if count == 0 { return .end }
            // Interrupted by a signal: the caller checks for Ctrl-C and reads again.
            return errno == EINTR ? .idle : .failed
        }
    }

    /// After an ESC: `ESC [ I` (focus in) or `ESC [ O` (focus out), read
    /// together since terminals send them at once. Anything else is kept for libedit.
    private func focusReport() -> Bool? {
        guard focusReporting else { return nil }
        var following: [UInt8] = []
        while following.count < 2 {
            if !readAhead.isEmpty {
                following.append(readAhead.removeFirst())
                continue
            }
            var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            var byte: UInt8 = 0
            guard poll(&descriptor, 1, 20) == 1, read(STDIN_FILENO, &byte, 1) == 1 else { break }
            following.append(byte)
        }
        if following.count == 2 && following[0] == UInt8(ascii: "[") && (following[1] == UInt8(ascii: "I") || following[1] == UInt8(ascii: "O")) {
            return following[1] == UInt8(ascii: "I")
        }
        readAhead = following + readAhead
        return nil
    }

    /// Tab: inserts the rest of a single match or the common part of several;
    /// lists the matches when there is nothing to insert. At the start of a
    /// line or after a space it indents instead, so that pasted code indented
    /// with tabs comes in as it was written.
    private func completeWord() -> UInt8 {
        guard let info = el_line(editLine)?.pointee, let buffer = info.buffer, let cursor = info.cursor else {
            return UInt8(CC_ERROR)
        }
        let typed = UnsafeRawBufferPointer(start: buffer, count: cursor - buffer)
        if typed.last.map({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) ?? true {
            el_insertstr(editLine, "  ")
            return UInt8(CC_REFRESH)
        }
        let completion = complete(String(decoding: typed, as: UTF8.self))
        if completion.candidates.isEmpty { return UInt8(CC_REFRESH_BEEP) }
        let insertion = completion.insertion
        if !insertion.isEmpty {
            el_insertstr(editLine, insertion)
            return UInt8(CC_REFRESH)
        }
        Output.write("\n" + Self.columns(completion.candidates) + "\n")
        return UInt8(CC_REDISPLAY)
    }

    /// Candidates in columns across an 80-column line.
    static func columns(_ words: [String]) -> String {
        let width = (words.map(\.count).max() ?? 0) + 2
        let perLine = max(1, 80 / width)
        return stride(from: 0, to: words.count, by: perLine).map { start in
            words[start ..< min(start + perLine, words.count)]
                .map { $0 + String(repeating: " ", count: width - $0.count) }.joined().trimmingSuffix { $0 == " " }
        }.joined(separator: "\n")
    }
}
