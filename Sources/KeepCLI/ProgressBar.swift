#if canImport(Glibc)
import Glibc
#endif

/// Progress of a long command on stderr: a bar redrawn in place on a
/// terminal, a plain line at most every two seconds otherwise (logs stay short).
final class ProgressBar {
    private let terminal = isatty(2) == 1
    private var lastLine = ContinuousClock.now - .seconds(10)

    /// `rate` is `unit`s per second this run; `counts` is shown after it.
    func show(label: String, done: Int64, total: Int64, unit: String, rate: Double, counts: String = "",
              finished: Bool) {
        let remaining = max(0, total - done)
        let eta = rate > 0 ? Self.duration(Double(remaining) / rate) : "?"
        let numbers = "\(done)/\(total)  \(Int(rate)) \(unit)/s"
            + (counts.isEmpty ? "" : "  " + counts)
        if terminal {
            let width = 24
            let filled = total > 0 ? min(width, Int(Double(width) * Double(done) / Double(total))) : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            Console.write("\r\u{1B}[2K\(label) \(bar) \(numbers)  ETA \(finished ? "0s" : eta)")
            if finished { Console.write("\n") }
        } else if finished || ContinuousClock.now - lastLine >= .seconds(2) {
            lastLine = ContinuousClock.now
            Console.error("\(label): \(numbers)" + (finished ? "  done" : "  ETA \(eta)"))
        }
    }

    /// Ends a half-drawn bar so what follows starts on a clean line.
    static func clearLine() {
        if isatty(2) == 1 { Console.write("\r\u{1B}[2K") }
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return "\(Int(seconds.rounded(.up)))s" }
        return "\(Int(seconds) / 60)m\(Int(seconds) % 60)s"
    }
}
