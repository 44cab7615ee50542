#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable byte buffer for writing JSON: plain malloc'd memory, so
/// appending costs no reference counting or bounds checks in release builds
/// (and no unspecialized generic calls in debug builds, as `[UInt8]` would).
/// The owner calls `deallocate()`.
///
/// It never grows past `limit` bytes (the Lua encoder sets what the memory
/// budget leaves), and a failed allocation is an error, not a trap: appending
/// throws a `limit` error instead. The appends are inlinable: the encoders in
/// other modules call them for every token.
public struct ByteBuffer {
    /// The memory and how much of it is written (set by the appends alone).
    @usableFromInline var start: UnsafeMutablePointer<UInt8>
    @usableFromInline var written = 0
    @usableFromInline var capacity: Int
    /// The most bytes the buffer may hold.
    public var limit = Int.max

    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        start = malloc(self.capacity)!.assumingMemoryBound(to: UInt8.self)
    }

    public func deallocate() { free(start) }

    public var base: UnsafeMutablePointer<UInt8> { start }
    public var count: Int { written }

    /// The bytes written so far.
    public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    @inlinable @inline(__always)
    public mutating func reserve(_ extra: Int) throws(JSONError) {
        if written + extra > capacity { try grow(written + extra) }
    }

    @usableFromInline
    mutating func grow(_ needed: Int) throws(JSONError) {
        guard needed <= limit else {
            throw JSONError(.limit, "the output would exceed the memory budget (\(needed) bytes; \(limit) allowed)")
        }
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        newCapacity = min(newCapacity, max(limit, needed))
        guard let grown = realloc(start, newCapacity) else {
            throw JSONError(.limit, "out of memory growing the output to \(newCapacity) bytes")
        }
        start = grown.assumingMemoryBound(to: UInt8.self)
        capacity = newCapacity
    }

    @inlinable @inline(__always)
    public mutating func append(_ byte: UInt8) throws(JSONError) {
        try reserve(1)
        start[written] = byte
        written += 1
    }

    @inlinable @inline(__always)
    public mutating func append(_ bytes: UnsafePointer<UInt8>, _ length: Int) throws(JSONError) {
        try reserve(length)
        (start + written).update(from: bytes, count: length)
        written += length
    }

    @inlinable @inline(__always)
    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONError) {
        guard let start = bytes.baseAddress else { return }
        try append(start, bytes.count)
    }

    @inlinable @inline(__always)
    public mutating func append(_ text: StaticString) throws(JSONError) {
        try append(text.utf8Start, text.utf8CodeUnitCount)
    }

    /// Disfavoured, so that a literal is appended as a `StaticString` (no
    /// retain, no closure): for a literal Swift otherwise picks `String`,
    /// which cost a tenth of the time of escaping a long string.
    @_disfavoredOverload
    public mutating func append(_ text: String) throws(JSONError) {
        try Self.withUTF8(of: text) { bytes throws(JSONError) in try append(bytes) }
    }

    /// `body` over the UTF-8 bytes of `text`, its error passed on as it is.
    static func withUTF8(of text: String, _ body: (UnsafeBufferPointer<UInt8>) throws(JSONError) -> Void) throws(JSONError) {
        var text = text
        var failure: JSONError?
        text.withUTF8 { bytes in
            do throws(JSONError) { try body(bytes) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    @inlinable @inline(__always)
    public mutating func appendRepeated(_ byte: UInt8, _ times: Int) throws(JSONError) {
        try reserve(times)
        (start + written).update(repeating: byte, count: times)
        written += times
    }

    /// Decimal digits of an integer.
    @inlinable
    public mutating func append(integer value: Int64) throws(JSONError) {
        try reserve(20)
        var magnitude = value.magnitude
        if value < 0 { start[written] = UInt8(ascii: "-"); written += 1 }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch on the stack
        let length = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var position = scratch.count
            repeat {
                position -= 1
                scratch[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
                magnitude /= 10
            } while magnitude > 0
            let length = scratch.count - position
            (start + written).update(from: scratch.baseAddress!.assumingMemoryBound(to: UInt8.self) + position,
                                  count: length)
            return length
        }
        written += length
    }

    /// Drops everything after `mark` (the encoder's rollback).
    public mutating func truncate(to mark: Int) { written = mark }

    /// The bytes written, as a string (the buffer stays the owner's to free).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
