/// ECMAScript's `Number::toString` for finite doubles (ECMA-262 §6.1.6.1.20),
/// which `JSON.stringify` uses: the shortest digits that round-trip, written
/// plainly for exponents −6 < n ≤ 21 and in `d.ddde±x` form otherwise.
///
/// The shortest digits come from Swift's own `description` (also shortest
/// round-trip); only the layout differs between the two languages.
public enum JSNumberFormat {
    /// Appends `value` as JavaScript prints it. `keepFloat` appends `.0` to
    /// integral results so that decoding gives a float again (Keep's
    /// non-canonical encoding); canonical output passes false.
    public static func append(_ value: Double, to buffer: inout ByteBuffer, keepFloat: Bool) throws(JSONError) {
        if value == 0 {
            if keepFloat { try buffer.append(value.sign == .minus ? "-0.0" : "0.0") } else { try buffer.append("0") }
            return
        }
        // Swift's description already has the shortest round-trip digits
        // ("1.2345e-07", "100.0"); collect them and the decimal exponent.
        var text = value.magnitude.description
        var failure: JSONError?
        text.withUTF8 { source in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { digits in
                var k = 0
                var exponent = 0          // value = 0.d1d2d3… × 10^(pointPosition + exponent)
                var pointPosition = 0
                var sawPoint = false
                var inExponent = false
                var exponentSign = 1
                var leadingZeros = true
                for byte in source {
                    if inExponent {
                        if byte == UInt8(ascii: "-") { exponentSign = -1 } else if byte != UInt8(ascii: "+") {
                            exponent = exponent * 10 + Int(byte - 0x30)
                        }
                        continue
                    }
                    switch byte {
                    case UInt8(ascii: "."): sawPoint = true
                    case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
                    default:
                        if leadingZeros && byte == UInt8(ascii: "0") {
                            if sawPoint { pointPosition -= 1 }
                            continue
                        }
                        leadingZeros = false
                        digits[k] = byte
                        k += 1
                        if !sawPoint { pointPosition += 1 }
                    }
                }
                while k > 0 && digits[k - 1] == UInt8(ascii: "0") { k -= 1 }
                do throws(JSONError) {
                    try layout(digits.baseAddress!, k, n: pointPosition + exponentSign * exponent,
                               negative: value < 0, keepFloat: keepFloat, to: &buffer)
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
    }

    /// An integer as Keep writes it: its digits, except that canonical output
    /// writes integers beyond ±2^53 as JavaScript prints the nearest double
    /// (JavaScript numbers are doubles: that is what the front end sees).
    @inlinable
    public static func append(integer: Int64, to buffer: inout ByteBuffer, canonical: Bool) throws(JSONError) {
        if canonical && integer.magnitude > 1 << 53 {
            try append(Double(integer), to: &buffer, keepFloat: false)
        } else {
            try buffer.append(integer: integer)
        }
    }

    /// A finite double as `append` writes it; NaN and infinities are refused
    /// (JSON has no such numbers, and JavaScript would silently write `null`).
    public static func appendFinite(_ value: Double, to buffer: inout ByteBuffer, keepFloat: Bool) throws(JSONError) {
        guard value.isFinite else { throw JSONError(.invalid, "cannot encode \(value) (JSON has no NaN or infinity)") }
        try append(value, to: &buffer, keepFloat: keepFloat)
    }

    /// A number read from JSON text, as canonical output writes what
    /// `json.decode` makes of it: an integer (`JSONNumberToken.integerValue`)
    /// by `append(integer:)`, anything else as the double it reads as.
    public static func append(_ number: JSONNumberToken, to buffer: inout ByteBuffer) throws(JSONError) {
        if let integer = number.integerValue {
            try append(integer: integer, to: &buffer, canonical: true)
        } else {
            try appendFinite(number.doubleValue, to: &buffer, keepFloat: false)
        }
    }

    /// ECMA-262 Number::toString step 6–10 for digits d (k of them) and the
    /// decimal point after position n.
    private static func layout(_ p: UnsafeMutablePointer<UInt8>, _ k: Int, n: Int, negative: Bool,
                               keepFloat: Bool, to buffer: inout ByteBuffer) throws(JSONError) {
        if negative { try buffer.append(UInt8(ascii: "-")) }
        if k <= n && n <= 21 {
            try buffer.append(p, k)
            try buffer.appendRepeated(UInt8(ascii: "0"), n - k)
            if keepFloat { try buffer.append(".0") }
        } else if 0 < n && n <= 21 {
            try buffer.append(p, n)
            try buffer.append(UInt8(ascii: "."))
            try buffer.append(p + n, k - n)
        } else if -6 < n && n <= 0 {
            try buffer.append("0.")
            try buffer.appendRepeated(UInt8(ascii: "0"), -n)
            try buffer.append(p, k)
        } else {
            try buffer.append(p[0])
            if k > 1 {
                try buffer.append(UInt8(ascii: "."))
                try buffer.append(p + 1, k - 1)
            }
            try buffer.append(UInt8(ascii: "e"))
            try buffer.append(UInt8(ascii: n - 1 < 0 ? "-" : "+"))
            try buffer.append(integer: Int64(abs(n - 1)))
        }
    }
}
