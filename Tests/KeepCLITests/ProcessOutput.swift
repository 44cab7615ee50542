import Foundation

/// The lines running `keep` processes print, read as they come, so that a
/// test acts on what the processes did (a worker's reported jobs) instead of
/// waiting a guessed time. Each stream is read on a thread of its own, so no
/// pipe fills up. (An `NSCondition` guards the lines: waiting needs one.)
final class ProcessOutput: @unchecked Sendable {
    private let condition = NSCondition()
    private var lines: [[String]] = []
    private var open = 0

    /// Reads `handle` into stream number `stream` (0, 1, … in the order added).
    @discardableResult
    func read(_ handle: FileHandle) -> Int {
        condition.lock()
        let stream = lines.count
        lines.append([])
        open += 1
        condition.unlock()
        Thread { [self] in
            var pending = Data()
            while true {
                let data = handle.availableData
                pending.append(data)
                var complete: [String] = []
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    complete.append(String(decoding: pending[pending.startIndex ..< newline], as: UTF8.self))
                    pending = Data(pending[(newline + 1)...])
                }
                condition.lock()
                lines[stream] += complete
                if data.isEmpty { open -= 1 }
                condition.broadcast()
                condition.unlock()
                if data.isEmpty { return }
            }
        }.start()
        return stream
    }

    /// Waits until `done` holds for the lines read so far, every stream has
    /// ended, or `timeout` seconds passed (a safety net, not a schedule);
    /// true when `done` holds.
    func wait(timeout: TimeInterval = 120, until done: ([[String]]) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !done(lines) {
            if open == 0 || !condition.wait(until: deadline) { return done(lines) }
        }
        return true
    }

    var all: [[String]] {
        condition.lock()
        defer { condition.unlock() }
        return lines
    }
}
