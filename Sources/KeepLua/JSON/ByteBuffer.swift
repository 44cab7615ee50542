#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import KeepCore

/// A growable byte buffer for the JSON encoder: plain malloc'd memory, so
/// appending costs no reference counting or bounds checks in release builds.
/// The owner calls `deallocate()`.
///
/// It never grows past `limit` bytes (the encoder sets what the memory budget
/// leaves), and a failed allocation is an error, not a trap: appending
/// throws `limit` instead.
struct ByteBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int
    /// The most bytes the buffer may hold.
    var limit = Int.max

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        base = malloc(self.capacity)!.assumingMemoryBound(to: UInt8.self)
    }

    func deallocate() { free(base) }

    @inline(__always)
    mutating func reserve(_ extra: Int) throws(KeepError) {
        if count + extra > capacity { try grow(count + extra) }
    }

    private mutating func grow(_ needed: Int) throws(KeepError) {
        guard needed <= limit else {
            throw KeepError(.limit, "the output would exceed the memory budget (\(needed) bytes; \(limit) allowed)")
        }
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        newCapacity = min(newCapacity, max(limit, needed))
        guard let grown = realloc(base, newCapacity) else {
            throw KeepError(.limit, "out of memory growing the output to \(newCapacity) bytes")
        }
        base = grown.assumingMemoryBound(to: UInt8.self)
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) throws(KeepError) {
        try reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafePointer<UInt8>, _ length: Int) throws(KeepError) {
        try reserve(length)
        (base + count).update(from: bytes, count: length)
        count += length
    }

    @inline(__always)
    mutating func append(_ text: StaticString) throws(KeepError) {
        try append(text.utf8Start, text.utf8CodeUnitCount)
    }

    mutating func append(_ text: String) throws(KeepError) {
        var text = text
        var failure: KeepError?
        text.withUTF8 { bytes in
            do throws(KeepError) { try append(bytes.baseAddress!, bytes.count) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    @inline(__always)
    mutating func appendRepeated(_ byte: UInt8, _ times: Int) throws(KeepError) {
        try reserve(times)
        (base + count).update(repeating: byte, count: times)
        count += times
    }

    /// Decimal digits of an integer.
    mutating func append(integer value: Int64) throws(KeepError) {
        try reserve(20)
        var magnitude = value.magnitude
        if value < 0 { base[count] = UInt8(ascii: "-"); count += 1 }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch on the stack
        let length = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var position = scratch.count
            repeat {
                position -= 1
                scratch[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
                magnitude /= 10
            } while magnitude > 0
            let length = scratch.count - position
            (base + count).update(from: scratch.baseAddress!.assumingMemoryBound(to: UInt8.self) + position,
                                  count: length)
            return length
        }
        count += length
    }

    /// Drops everything after `mark` (the encoder's rollback).
    mutating func truncate(to mark: Int) { count = mark }
}
