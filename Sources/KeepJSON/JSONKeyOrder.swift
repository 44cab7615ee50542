/// The order Keep writes object keys in, compact and canonical alike: the order
/// `JSON.stringify(sortKeysDeep(v))` gives. JavaScript enumerates a plain
/// object's canonical array-index keys ("0", "1", … below 2³²−1) first by
/// value, then the rest in insertion order, which `sortKeysDeep` makes UTF-16
/// code-unit order.
public enum JSONKeyOrder {
    /// The key's value when it is a canonical array index ("0", or digits
    /// without a leading zero, below 2³²−1), else -1.
    @inlinable
    public static func arrayIndex(_ key: UnsafePointer<UInt8>, _ length: Int) -> Int64 {
        guard length > 0, length <= 10 else { return -1 }
        if key[0] == UInt8(ascii: "0") { return length == 1 ? 0 : -1 }
        var value: Int64 = 0
        for i in 0 ..< length {
            let digit = key[i] &- 0x30
            guard digit < 10 else { return -1 }
            value = value * 10 + Int64(digit)
        }
        return value < 4_294_967_295 ? value : -1
    }

    /// Whether key `a` (UTF-8, array index `aIndex` or -1) comes before key `b`.
    @inlinable
    public static func precedes(_ a: UnsafePointer<UInt8>, _ aLength: Int, index aIndex: Int64,
                                _ b: UnsafePointer<UInt8>, _ bLength: Int, index bIndex: Int64) -> Bool {
        if aIndex >= 0 || bIndex >= 0 {
            if aIndex >= 0 && bIndex >= 0 { return aIndex < bIndex }
            return aIndex >= 0
        }
        return utf16Less(a, aLength, b, bLength)
    }

    /// Whether key `a` comes before key `b`, array indices worked out here.
    public static func precedes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let empty = UnsafePointer<UInt8>(bitPattern: 1)!
        let p = a.baseAddress ?? empty
        let q = b.baseAddress ?? empty
        // Only a key starting with a digit can be an array index.
        let x = a.count > 0 && p.pointee &- 0x30 < 10 ? arrayIndex(p, a.count) : -1
        let y = b.count > 0 && q.pointee &- 0x30 < 10 ? arrayIndex(q, b.count) : -1
        return precedes(p, a.count, index: x, q, b.count, index: y)
    }

    /// UTF-16 code-unit order computed on UTF-8: byte order, except that
    /// characters above U+FFFF (surrogates D800…DBFF in UTF-16, lead bytes F0…F4)
    /// come before U+E000…U+FFFF (lead bytes EE and EF). Where the first
    /// difference is not between lead bytes, both characters have the same
    /// length and byte order is code-point order.
    @inlinable
    public static func utf16Less(_ a: UnsafePointer<UInt8>, _ aLength: Int,
                                 _ b: UnsafePointer<UInt8>, _ bLength: Int) -> Bool {
        let common = min(aLength, bLength)
        var n = 0
        while n < common && a[n] == b[n] { n += 1 }
        guard n < common else { return aLength < bLength }
        let (x, y) = (a[n], b[n])
        if x >= 0xF0, y == 0xEE || y == 0xEF { return true }
        if y >= 0xF0, x == 0xEE || x == 0xEF { return false }
        return x < y
    }
}
