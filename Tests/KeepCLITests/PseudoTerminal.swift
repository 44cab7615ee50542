import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `keep` on a pseudo-terminal, as a person at a terminal
/// would: keys go in through the master side, and tests wait (with a
/// deadline, never a fixed sleep) for what appears on the screen.
///
/// The child is started with posix_spawn in a new session (POSIX_SPAWN_SETSID)
/// and opens the terminal's slave side as its standard streams, which makes it
/// the controlling terminal, so Ctrl-C becomes SIGINT as it would for a person.
final class PseudoTerminal {
    struct Timeout: Error, CustomStringConvertible {
        var expected: String
        var screen: String
        var description: String { "timed out waiting for \(expected.debugDescription); output so far:\n\(screen)" }
    }

    private let master: Int32
    let pid: pid_t
    private var raw: [UInt8] = []
    /// How much of the screen text (in UTF-8 bytes) `waitFor` has already matched.
    private var mark = 0
    private var exitStatus: Int32?

    /// Runs `keep arguments…`, in `directory` when given (through `sh`, which
    /// changes directory and then becomes `keep`).
    convenience init(_ arguments: [String], environment: [String: String], directory: URL? = nil) throws {
        var command = [KeepBinary.path] + arguments
        if let directory { command = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory.path] + command }
        try self.init(command: command, environment: environment)
    }

    /// Runs `script` in `sh`, with `$0` the path of `keep` and `$1…` the
    /// arguments: a shell on the terminal, for job control.
    convenience init(shellScript script: String, arguments: [String], environment: [String: String]) throws {
        try self.init(command: ["/bin/sh", "-c", script, KeepBinary.path] + arguments, environment: environment)
    }

    private init(command: [String], environment: [String: String]) throws {
        // posix_openpt, unlockpt and ptsname are hidden from Swift (they need
        // _XOPEN_SOURCE); this is what they do on Linux.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        let TIOCSPTLCK: UInt = 0x4004_5431, TIOCGPTN: UInt = 0x8004_5430  // <asm/ioctls.h>
        guard master >= 0, ioctl(master, TIOCSPTLCK, &unlock) == 0, ioctl(master, TIOCGPTN, &number) == 0 else {
            throw POSIXError(.ENOTTY)
        }
        var size = winsize(ws_row: 30, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        let slave = "/dev/pts/\(number)"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, slave, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID is 0x80 in glibc (only declared under _GNU_SOURCE).
        let setsid: Int32 = 0x80
        posix_spawnattr_setflags(&attributes, Int16(setsid | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, command[0], &actions, &attributes, argv, envp)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        pid = child
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        close(master)
    }

    /// Types `text` (use "\r" for Enter, "\u{3}" for Ctrl-C, "\t" for Tab).
    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(master, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }

    /// The output so far, escapes included.
    var rawText: String { String(decoding: raw, as: UTF8.self) }

    /// The output so far with terminal escapes and carriage returns removed.
    var screen: String {
        var text = ""
        var iterator = String(decoding: raw, as: UTF8.self).unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            switch scalar {
            case "\u{1B}":
                // CSI: ESC [ parameters final-letter; other escapes: ESC and one character.
                guard let next = iterator.next() else { break }
                if next == "[" {
                    while let c = iterator.next(), !(c.value >= 0x40 && c.value <= 0x7E) {}
                }
            case "\r", "\u{7}", "\u{8}": break
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text
    }

    /// Waits until `expected` appears after what earlier waits matched, and
    /// returns the output up to and including it.
    @discardableResult
    func waitFor(_ expected: String, timeout: Duration = .seconds(20)) throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let text = screen
            let start = text.utf8.index(text.startIndex, offsetBy: min(mark, text.utf8.count))
            if let range = text.range(of: expected, range: start ..< text.endIndex) {
                mark = text.utf8.distance(from: text.startIndex, to: range.upperBound)
                return String(text[start ..< range.upperBound])
            }
            guard ContinuousClock.now < deadline, readOutput(until: deadline) else {
                throw Timeout(expected: expected, screen: text)
            }
        }
    }

    /// Reads what is available, waiting at most until `deadline`; false at
    /// the deadline or when the terminal closed.
    private func readOutput(until deadline: ContinuousClock.Instant) -> Bool {
        let remaining = deadline - ContinuousClock.now
        let milliseconds = max(1, Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))
        var descriptor = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, milliseconds) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(master, &buffer, buffer.count)
        guard count > 0 else { return false }
        raw += buffer[0 ..< count]
        return true
    }

    /// Types `text` once the line editor reads keys (the terminal is in raw
    /// mode, Ctrl-C no signal): typed earlier, the terminal driver itself would
    /// echo the keys and take Ctrl-C and Ctrl-D for signals and end of file.
    func type(_ text: String) throws {
        try waitForSignals(enabled: false)
        send(text)
    }

    /// Waits until Ctrl-C makes SIGINT (cooked mode: ISIG on, an interrupt
    /// character) or not (the line editor's mode, which only disables the
    /// interrupt character). Cooked mode after a line was entered means the
    /// REPL runs it, so that Ctrl-C is a signal rather than a key for the line editor.
    func waitForSignals(enabled: Bool, timeout: Duration = .seconds(20)) throws {
        let deadline = ContinuousClock.now + timeout
        var attributes = termios()
        func interruptIsASignal() -> Bool {
            attributes.c_lflag & tcflag_t(ISIG) != 0 && withUnsafeBytes(of: attributes.c_cc) { $0[Int(VINTR)] } != 0
        }
        while tcgetattr(master, &attributes) == 0 && interruptIsASignal() != enabled {
            guard ContinuousClock.now < deadline else {
                throw Timeout(expected: enabled ? "Ctrl-C a signal" : "Ctrl-C a key", screen: screen)
            }
            _ = readOutput(until: min(deadline, ContinuousClock.now + .milliseconds(5)))
        }
    }

    /// Waits for the process to exit and returns its status.
    func waitForExit(timeout: Duration = .seconds(20)) throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                return exitStatus!
            }
            guard ContinuousClock.now < deadline else { throw Timeout(expected: "exit", screen: screen) }
            _ = readOutput(until: min(deadline, ContinuousClock.now + .milliseconds(20)))
        }
    }
}
