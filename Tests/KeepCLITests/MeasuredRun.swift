import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A run of the built `keep` binary whose peak memory is measured:
/// Foundation's `Process` reaps its children itself, so this spawns and waits
/// with `wait4` to read the child's own resource usage.
struct MeasuredRun {
    var status: Int32
    /// The signal that ended the process, if one did.
    var signal: Int32?
    var stdout: String
    var stderr: String
    /// Peak resident set size, in bytes.
    var peakMemory: Int
    var elapsed: Duration
    /// User plus system CPU time: unlike `elapsed`, not stretched by a busy machine.
    var cpuTime: Duration

    /// Runs `keep arguments…` with stdin from /dev/null; its output goes to
    /// files in `directory` (a pipe left unread could stall the child).
    static func run(_ arguments: [String], directory: URL) throws -> MeasuredRun {
        let outPath = directory.appendingPathComponent("stdout-\(UUID().uuidString)").path
        let errPath = directory.appendingPathComponent("stderr-\(UUID().uuidString)").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([KeepBinary.path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let started = ContinuousClock.now
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, KeepBinary.path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let elapsed = ContinuousClock.now - started
        let exited = status & 0x7f == 0
        return MeasuredRun(
            status: exited ? (status >> 8) & 0xff : -1,
            signal: exited ? nil : status & 0x7f,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
            peakMemory: usage.ru_maxrss * 1024,
            elapsed: elapsed,
            cpuTime: .seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + .microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec))
    }
}
