#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tells, from the text alone, whether JSON text is already in canonical form
/// (`json.encode(json.decode(text), {canonical = true}) == text`), without
/// building Lua values: a migration that changed a document need not decode
/// and encode the stored text a second time to know its change is real.
///
/// Conservative: `true` only when the text is certainly canonical; `false`
/// when it is not, or when the check cannot tell cheaply (keys with escapes).
/// Callers then decode and encode to find out.
public enum CanonicalJSON {
    /// The text must be valid JSON (it was decoded successfully).
    public static func isCanonical(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return false }
            var checker = Checker(p: base, end: base + bytes.count)
            defer { checker.numberText.deallocate() }
            return checker.value(depth: 0) && checker.p == checker.end
        }
    }

    private struct Checker {
        var p: UnsafePointer<UInt8>
        let end: UnsafePointer<UInt8>
        var numberText = ByteBuffer(capacity: 64)

        init(p: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>) {
            self.p = p
            self.end = end
        }

        mutating func value(depth: Int) -> Bool {
            guard p < end, depth <= JSONLimits.maximumDepth else { return false }
            switch p.pointee {
            case UInt8(ascii: "{"): return container(depth: depth, close: UInt8(ascii: "}"), keyed: true)
            case UInt8(ascii: "["): return container(depth: depth, close: UInt8(ascii: "]"), keyed: false)
            case UInt8(ascii: "\""): return string(key: false) != nil
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        /// `{}` / `[]`, or members each on its own line indented by two spaces
        /// per level, `": "` after keys, keys in the encoder's order.
        private mutating func container(depth: Int, close: UInt8, keyed: Bool) -> Bool {
            p += 1
            if p < end && p.pointee == close {
                p += 1
                return true
            }
            var previousKey: UnsafeBufferPointer<UInt8>?
            while true {
                guard expectNewline(indent: depth + 1) else { return false }
                if keyed {
                    guard let key = string(key: true) else { return false }
                    if let previousKey, !JSONKeyOrder.precedes(previousKey, key) { return false }
                    previousKey = key
                    guard expect(UInt8(ascii: ":")), expect(UInt8(ascii: " ")) else { return false }
                }
                guard value(depth: depth + 1) else { return false }
                if p < end && p.pointee == UInt8(ascii: ",") {
                    p += 1
                    continue
                }
                return expectNewline(indent: depth) && expect(close)
            }
        }

        private mutating func expectNewline(indent: Int) -> Bool {
            guard expect(UInt8(ascii: "\n")), end - p >= indent * 2 else { return false }
            for _ in 0 ..< indent * 2 {
                guard p.pointee == UInt8(ascii: " ") else { return false }
                p += 1
            }
            return true
        }

        private mutating func expect(_ byte: UInt8) -> Bool {
            guard p < end, p.pointee == byte else { return false }
            p += 1
            return true
        }

        private mutating func literal(_ word: StaticString) -> Bool {
            guard end - p >= word.utf8CodeUnitCount,
                  memcmp(p, word.utf8Start, word.utf8CodeUnitCount) == 0 else { return false }
            p += word.utf8CodeUnitCount
            return true
        }

        /// A string written as JSON.stringify writes it: only `"`, `\` and
        /// control characters escaped, by name where JSON has one, else as
        /// `\u00xx`. Returns its bytes between the quotes; keys must have no
        /// escapes at all (their order is checked on the raw bytes).
        private mutating func string(key: Bool) -> UnsafeBufferPointer<UInt8>? {
            p += 1
            let start = p
            while p < end {
                let byte = p.pointee
                if byte == UInt8(ascii: "\"") {
                    defer { p += 1 }
                    return UnsafeBufferPointer(start: start, count: p - start)
                }
                if byte < 0x20 { return nil }
                guard byte == UInt8(ascii: "\\") else {
                    p += 1
                    continue
                }
                guard !key, end - p >= 2 else { return nil }
                switch p[1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                     UInt8(ascii: "r"), UInt8(ascii: "t"):
                    p += 2
                case UInt8(ascii: "u"):
                    // Only control characters without a short name, in lowercase hex.
                    guard end - p >= 6, p[2] == UInt8(ascii: "0"), p[3] == UInt8(ascii: "0"),
                          let high = Self.lowerHex(p[4]), high <= 1, let low = Self.lowerHex(p[5]) else { return nil }
                    let code = high << 4 | low
                    guard ![0x08, 0x09, 0x0A, 0x0C, 0x0D].contains(code) else { return nil }
                    p += 6
                default:
                    return nil
                }
            }
            return nil
        }

        private static func lowerHex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            default: nil
            }
        }

        /// A number exactly as canonical output writes the value it reads as
        /// (`JSNumberFormat.append(_:to:)`): integers up to 2^53 as their digits,
        /// not `-0`, not `1.0`.
        private mutating func number() -> Bool {
            let start = p
            while p < end {
                let byte = p.pointee
                guard byte &- 0x30 < 10 || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
                    || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") else { break }
                p += 1
            }
            let length = p - start
            guard length > 0 else { return false }
            numberText.truncate(to: 0)
            let token = JSONNumberToken(literal: UnsafeBufferPointer(start: start, count: length))
            guard (try? JSNumberFormat.append(token, to: &numberText)) != nil else { return false }
            return numberText.count == length && memcmp(numberText.base, start, length) == 0
        }
    }
}
