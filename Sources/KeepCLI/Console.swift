#if canImport(Glibc)
import Glibc
#endif

/// Writing to the standard streams. Lua's `print` writes through C stdio, so
/// everything flushes C's buffers before writing to stderr to keep order.
enum Console {
    /// Flushes every C stdio stream (Lua's print buffers stdout).
    static func flush() { fflush(nil) }

    /// Writes a line to standard error.
    static func error(_ text: String) { write(text + "\n") }

    /// Writes text to standard error as is (progress bars redraw a line).
    static func write(_ text: String) {
        flush()
        var line = text
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

/// Prints `message` on stderr and exits.
func fail(_ message: String, status: Int32) -> Never {
    CommandServices.closeAll()
    Console.error(message)
    exit(status)
}
