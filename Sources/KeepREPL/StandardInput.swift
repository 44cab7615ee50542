#if canImport(Glibc)
import Glibc
#endif

/// Lines of standard input, read in blocks.
struct StandardInput {
    private var buffer: [UInt8] = []
    private var start = 0
    private var ended = false

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
            let count = Glibc.read(STDIN_FILENO, &block, block.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { ended = true } else { buffer += block[0 ..< count] }
        }
    }
}
