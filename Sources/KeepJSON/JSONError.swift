/// Why JSON text could not be read or written, and where.
///
/// KeepJSON sits below Keep's error type; its callers turn this into a
/// `KeepError` with the same code (`invalid` or `limit`).
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: Sendable {
        /// The text is not JSON, or the value cannot be written as JSON.
        case invalid
        /// A limit was reached: memory, or a budget a caller enforces.
        case limit
    }

    public struct Position: Equatable, Sendable {
        /// Byte offset into the text, from 0.
        public var offset: Int
        /// Line and column (in bytes), from 1.
        public var line: Int
        public var column: Int
    }

    public var code: Code
    /// What was wrong, without the position.
    public var problem: String
    /// Where in the input, for errors in JSON text.
    public var position: Position?

    public init(_ code: Code, _ problem: String, position: Position? = nil) {
        self.code = code
        self.problem = problem
        self.position = position
    }

    /// An error at byte `offset` of `text` (the line and column are counted here,
    /// off the hot path).
    public init(_ problem: String, at offset: Int, in text: UnsafeBufferPointer<UInt8>) {
        var line = 1
        var column = 1
        for byte in text.prefix(offset) {
            if byte == 0x0A { line += 1; column = 1 } else { column += 1 }
        }
        self.init(.invalid, problem, position: Position(offset: offset, line: line, column: column))
    }

    /// `problem at line L column C (byte B)`, bytes counted from 1.
    public var description: String {
        guard let position else { return problem }
        return "\(problem) at line \(position.line) column \(position.column) (byte \(position.offset + 1))"
    }
}
