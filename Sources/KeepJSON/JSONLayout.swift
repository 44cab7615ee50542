/// The two layouts Keep writes JSON in: compact, and the canonical indented
/// form (`JSON.stringify(sortKeysDeep(v), null, 2)`, what `json.encode(v,
/// {canonical = true})` and table content write). A merged document takes the
/// layout of the copy it came from, so a merge does not reformat a document.
public enum JSONLayout {
    /// Whether `text` starts the way the indented layout does: `{` or `[` then a line break.
    public static func isIndented(_ text: String) -> Bool {
        var bytes = text.utf8.makeIterator()
        guard let first = bytes.next(), first == UInt8(ascii: "{") || first == UInt8(ascii: "[") else { return false }
        return bytes.next() == UInt8(ascii: "\n")
    }

    /// Compact JSON (no white space outside strings) re-laid out with two-space
    /// indents, `": "` after keys, and `{}` / `[]` for empty containers.
    public static func indented(_ compact: String) -> String {
        var out: [UInt8] = []
        var compact = compact
        compact.withUTF8 { bytes in
            out.reserveCapacity(bytes.count + bytes.count / 4)
            var depth = 0
            var index = 0
            func newline() {
                out.append(UInt8(ascii: "\n"))
                out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
            }
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    // A string, escapes included, copied as it is.
                    let start = index
                    index += 1
                    while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                        index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                    }
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start ... min(index, bytes.count - 1)]))
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    out.append(byte)
                    let closing = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                    if index + 1 < bytes.count, bytes[index + 1] == closing {
                        out.append(closing)
                        index += 1
                    } else {
                        depth += 1
                        newline()
                    }
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    newline()
                    out.append(byte)
                case UInt8(ascii: ","):
                    out.append(byte)
                    newline()
                case UInt8(ascii: ":"):
                    out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
                default:
                    out.append(byte)
                }
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
