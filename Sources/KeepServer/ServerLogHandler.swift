#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeepJSON
import KeepStore
import Logging
import Synchronization

/// `keep serve`'s log lines, one per record on standard error, laid out as
/// swift-log's `StreamLogHandler` lays them out — time, level, label, the
/// metadata as `key=value` in key order, `[source]` and the message — but
/// with UTC times to the millisecond, and values quoted (as JSON strings)
/// when they hold a space, a quote, `=` or a control character, so that
/// every line splits into its fields. Lines go out through `LogOutput`.
public struct ServerLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let output: LogOutput

    public init(label: String, output: LogOutput) {
        self.label = label
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // The record's own metadata first, then the provider's, then the handler's.
        var merged = event.metadata ?? [:]
        if let provided = metadataProvider?.get() { merged.merge(provided) { given, _ in given } }
        if !metadata.isEmpty { merged.merge(metadata) { given, _ in given } }
        var line = KeepClock.system.now().iso8601
        line.reserveCapacity(256)
        line += " "
        line += event.level.rawValue
        line += " "
        line += label
        line += ":"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " "
            line += key
            line += "="
            line += Self.field(value.description)
        }
        line += " ["
        line += event.source
        line += "] "
        line += event.message.description
        line += "\n"
        output.write(line, urgent: event.level >= .warning)
    }

    /// `value` as it is when it cannot be mistaken for another field, else
    /// quoted as a JSON string.
    static func field(_ value: String) -> String {
        let plain = !value.isEmpty && value.utf8.allSatisfy { byte in
            byte > 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "=") && byte != 0x7F
        }
        return plain ? value : JSONTree.quoted(value)
    }
}

/// Where `keep serve`'s log goes: a file descriptor (standard error),
/// through a buffer. A system call for each request's line cost about a
/// tenth of a small request's time, so lines are gathered and written
/// together: when 64 KiB wait, when a warning or an error comes (with all
/// before it), and at the latest every `interval` by a thread of its own.
/// A line is therefore at most `interval` late, and a process killed with
/// SIGKILL loses at most that much; `flush()` before a normal exit.
public final class LogOutput: Sendable {
    private let descriptor: Int32
    private let pending = Mutex<[UInt8]>([])
    /// Held while writing, so that chunks reach the descriptor in order.
    private let writing = Mutex<Void>(())
    static let threshold = 64 << 10

    /// `interval` nil: lines wait for a warning, 64 KiB or `flush()`.
    public init(descriptor: Int32 = STDERR_FILENO, interval: Duration? = .milliseconds(100)) {
        self.descriptor = descriptor
        guard let interval else { return }
        let microseconds = UInt32(clamping: interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000)
        Thread.detachNewThread { [self] in
            while true {
                usleep(microseconds)
                flush()
            }
        }
    }

    func write(_ line: String, urgent: Bool) {
        let full = pending.withLock { pending in
            pending.append(contentsOf: line.utf8)
            return pending.count >= Self.threshold
        }
        if urgent || full { flush() }
    }

    /// Writes what waits.
    public func flush() {
        writing.withLock { _ in
            let chunk = pending.withLock { pending in
                defer { pending.removeAll(keepingCapacity: true) }
                return pending
            }
            chunk.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return // Nowhere to report it: the log is where errors go.
                    }
                    offset += written
                }
            }
        }
    }
}
