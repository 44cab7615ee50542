/// UTF-8 well-formedness (Unicode §3.9, table 3-7): no overlongs, no
/// surrogates, nothing above U+10FFFF. JSON text, strings written as JSON and
/// keys are all checked by this one rule.
public enum UTF8Validation {
    /// Length of the valid sequence at `p` (first byte ≥ 0x80), or 0.
    @inlinable @inline(__always)
    public static func sequenceLength(_ p: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> Int {
        let b0 = p[0]
        let available = end - p
        @inline(__always) func cont(_ i: Int) -> Bool { i < available && p[i] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2 ... 0xDF:
            return cont(1) ? 2 : 0
        case 0xE0:
            return available >= 3 && p[1] >= 0xA0 && p[1] <= 0xBF && cont(2) ? 3 : 0
        case 0xE1 ... 0xEC, 0xEE ... 0xEF:
            return cont(1) && cont(2) ? 3 : 0
        case 0xED:
            return available >= 3 && p[1] >= 0x80 && p[1] <= 0x9F && cont(2) ? 3 : 0
        case 0xF0:
            return available >= 4 && p[1] >= 0x90 && p[1] <= 0xBF && cont(2) && cont(3) ? 4 : 0
        case 0xF1 ... 0xF3:
            return cont(1) && cont(2) && cont(3) ? 4 : 0
        case 0xF4:
            return available >= 4 && p[1] >= 0x80 && p[1] <= 0x8F && cont(2) && cont(3) ? 4 : 0
        default:
            return 0
        }
    }

    /// Whether all `count` bytes at `p` are valid UTF-8.
    public static func isValid(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var q = p
        let end = p + count
        while q < end {
            if q.pointee < 0x80 { q += 1; continue }
            let length = sequenceLength(q, end)
            if length == 0 { return false }
            q += length
        }
        return true
    }
}
