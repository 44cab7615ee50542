import Crypto

/// SHA-256 of the UTF-8 bytes of a document's content, as 64 lowercase hex
/// digits — the same as the reference system, so hashes agree with its front end.
public struct ContentHash: Hashable, Sendable, CustomStringConvertible {
    public let hex: String

    public init<Bytes: Sequence>(of bytes: Bytes) where Bytes.Element == UInt8 {
        let digest = SHA256.hash(data: Array(bytes))
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(64)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        hex = String(decoding: text, as: UTF8.self)
    }

    public init(of content: String) { self.init(of: content.utf8) }

    /// A stored hash, as read back from a backend.
    public init(storedHex: String) { hex = storedHex }

    public var description: String { hex }
}
