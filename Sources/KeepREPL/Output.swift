#if canImport(Glibc)
import Glibc
#endif

/// Writing to the standard streams. Lua's `print` writes through C stdio, so
/// C's buffers are flushed first to keep the order.
enum Output {
    static func write(_ text: String) { write(text, to: STDOUT_FILENO) }

    /// A line on standard error.
    static func error(_ text: String) { write(text + "\n", to: STDERR_FILENO) }

    private static func write(_ text: String, to descriptor: Int32) {
        fflush(nil)
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

/// ANSI styling, or none.
struct Style {
    let enabled: Bool

    private func wrap(_ text: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m" + text + "\u{1B}[0m" : text
    }

    func dim(_ text: String) -> String { wrap(text, "2") }
    func error(_ text: String) -> String { wrap(text, "31") }
}
