/// Identifiers of sessions and snapshots (SPEC §1): 12 characters from
/// `A-Z a-z 0-9 _ -`, 64 symbols, so 72 random bits.
///
/// Each symbol takes 6 bits of a CSPRNG byte: 64 divides 256, so there is no
/// modulo bias. On Linux `SystemRandomNumberGenerator` reads `getrandom(2)`.
public struct ResourceID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public static let length = 12
    public static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".utf8)

    public let rawValue: String

    /// A new random identifier.
    public static func generate() -> ResourceID {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// A new identifier drawn from `generator` (tests inject a seeded one).
    public static func generate<G: RandomNumberGenerator>(using generator: inout G) -> ResourceID {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        var bits = generator.next() as UInt64  // 64 bits: enough for 10 symbols
        var available = 64
        for _ in 0 ..< length {
            if available < 6 {
                bits = generator.next()
                available = 64
            }
            bytes.append(alphabet[Int(bits & 0x3F)])
            bits >>= 6
            available -= 6
        }
        return ResourceID(uncheckedRawValue: String(decoding: bytes, as: UTF8.self))
    }

    /// Validates text from outside (a script, a URL, a token).
    public init(_ text: String) throws(KeepError) {
        guard text.utf8.count == Self.length, text.utf8.allSatisfy({ Self.isSymbol($0) }) else {
            throw KeepError(.invalid, "'\(text.prefix(40))' is not an id; ids are \(Self.length) characters from A-Z a-z 0-9 _ -")
        }
        rawValue = text
    }

    private init(uncheckedRawValue: String) { rawValue = uncheckedRawValue }

    static func isSymbol(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            || byte == 0x5F || byte == 0x2D
    }

    public var description: String { rawValue }
    public static func < (a: ResourceID, b: ResourceID) -> Bool { a.rawValue < b.rawValue }
}
