extension ByteBuffer {
    /// JSON.stringify's escaping (ECMA-262 QuoteJSONString), with the quotes:
    /// `"` `\` and the control characters; \b \f \n \r \t by name, the other
    /// controls as lowercase \u00xx; nothing else (not `/`, not non-ASCII).
    public mutating func appendQuoted(_ bytes: UnsafePointer<UInt8>, _ length: Int) throws(JSONError) {
        try reserve(length + 2)
        start[written] = UInt8(ascii: "\"")
        written += 1
        try appendEscaped(bytes, length)
        try append(UInt8(ascii: "\""))
    }

    public mutating func appendQuoted(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONError) {
        try appendQuoted(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!, bytes.count)
    }

    /// `text` as a JSON string literal (a Swift string is valid UTF-8, so
    /// only running out of memory fails).
    public mutating func appendQuoted(_ text: String) throws(JSONError) {
        try Self.withUTF8(of: text) { bytes throws(JSONError) in try appendQuoted(bytes) }
    }

    /// The contents of a string, escaped as `appendQuoted` escapes them. The
    /// bytes must be valid UTF-8: the error names the first byte that is not,
    /// counted from 1 at `origin` (a caller writing a long string piece by
    /// piece passes the string's start).
    public mutating func appendEscaped(_ bytes: UnsafePointer<UInt8>, _ length: Int,
                                       origin: UnsafePointer<UInt8>? = nil) throws(JSONError) {
        var runStart = bytes
        var p = bytes
        let end = bytes + length
        while p < end {
            let byte = p.pointee
            if byte >= 0x80 {
                let sequence = UTF8Validation.sequenceLength(p, end)
                guard sequence > 0 else {
                    throw JSONError(.invalid, "cannot encode a string that is not valid UTF-8 (byte \(p - (origin ?? bytes) + 1))")
                }
                p += sequence
                continue
            }
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else {
                p += 1
                continue
            }
            try append(runStart, p - runStart)
            switch byte {
            case UInt8(ascii: "\""): try append("\\\"")
            case UInt8(ascii: "\\"): try append("\\\\")
            default:
                if let letter = JSONEscape.shortEscape(byte) {
                    try append(UInt8(ascii: "\\"))
                    try append(letter)
                } else {
                    try append("\\u")
                    try append(JSONEscape.hexDigits(byte))
                }
            }
            p += 1
            runStart = p
        }
        try append(runStart, p - runStart)
    }
}

/// The escapes JSON.stringify writes for control characters.
enum JSONEscape {
    /// The letter of the two-character escape for a control character, if it has one.
    static func shortEscape(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x08: UInt8(ascii: "b")
        case 0x09: UInt8(ascii: "t")
        case 0x0A: UInt8(ascii: "n")
        case 0x0C: UInt8(ascii: "f")
        case 0x0D: UInt8(ascii: "r")
        default: nil
        }
    }

    /// The four digits of `\u00xx` for a control character, lowercase.
    static func hexDigits(_ byte: UInt8) -> UnsafeBufferPointer<UInt8> {
        let table: StaticString = """
            0000000100020003000400050006000700080009000a000b000c000d000e000f\
            0010001100120013001400150016001700180019001a001b001c001d001e001f
            """
        return UnsafeBufferPointer(start: table.utf8Start + 4 * Int(byte), count: 4)
    }
}
