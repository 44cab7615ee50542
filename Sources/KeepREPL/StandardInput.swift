#if canImport(Glibc)
import Glibc
#endif

import KeepLua

/// Lines of standard input, read in blocks.
struct StandardInput {
    private var buffer: [UInt8] = []
    private var start = 0
    private var ended = false
    /// Ctrl-C (SIGINT) came while waiting for input: the input ends there,
    /// and the interrupt is consumed so it cannot stop the next chunk.
    private(set) var interrupted = false

    /// The next line, or nil at the end of the input or on Ctrl-C.
    mutating func nextLine() -> String? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 10) {
                let line = String(decoding: buffer[start ..< newline], as: UTF8.self)
                start = newline + 1
                return line
            }
            if ended {
                guard start < buffer.count else { return nil }
                let line = String(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                return line
            }
            buffer.removeSubrange(0 ..< start)
            start = 0
            var block = [UInt8](repeating: 0, count: 65536)
            if LuaState.takeInterrupt() {
                interrupted = true
                return nil
            }
            let count = Glibc.read(STDIN_FILENO, &block, block.count)
            if count < 0 && errno == EINTR { continue }  // Ctrl-C is seen above
            if count <= 0 { ended = true } else { buffer += block[0 ..< count] }
        }
    }
}
