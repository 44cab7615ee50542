/// How to turn a migrated document's content back into what it was: the
/// bytes the two texts share at the start and at the end are kept by
/// length, only the differing middle is stored. A migration that renames a
/// module changes a few lines, so its backup costs bytes, not a second copy
/// of every document. Applying checks nothing itself; rollbacks compare the
/// result's SHA-256 with the hash it had.
public struct ContentPatch: Sendable, Equatable {
    /// Bytes shared at the start.
    public var prefixLength: Int
    /// Bytes shared at the end (not overlapping the prefix).
    public var suffixLength: Int
    /// The previous content's bytes between them.
    public var middle: [UInt8]

    public init(prefixLength: Int, suffixLength: Int, middle: [UInt8]) {
        self.prefixLength = prefixLength
        self.suffixLength = suffixLength
        self.middle = middle
    }

    /// The patch that turns `new` back into `old`.
    public init(restoring old: String, from new: String) {
        var old = old, new = new
        (prefixLength, suffixLength, middle) = old.withUTF8 { before in
            new.withUTF8 { after in
                let limit = min(before.count, after.count)
                var prefix = 0
                var suffix = 0
                // Eight bytes at a time, then byte by byte.
                if let oldBase = before.baseAddress, let newBase = after.baseAddress {
                    let old = UnsafeRawPointer(oldBase), new = UnsafeRawPointer(newBase)
                    while prefix + 8 <= limit,
                          old.loadUnaligned(fromByteOffset: prefix, as: UInt64.self)
                            == new.loadUnaligned(fromByteOffset: prefix, as: UInt64.self) { prefix += 8 }
                    while prefix < limit, before[prefix] == after[prefix] { prefix += 1 }
                    while suffix + 8 <= limit - prefix,
                          old.loadUnaligned(fromByteOffset: before.count - suffix - 8, as: UInt64.self)
                            == new.loadUnaligned(fromByteOffset: after.count - suffix - 8, as: UInt64.self) {
                        suffix += 8
                    }
                }
                while suffix < limit - prefix, before[before.count - 1 - suffix] == after[after.count - 1 - suffix] {
                    suffix += 1
                }
                return (prefix, suffix, Array(before[prefix ..< before.count - suffix]))
            }
        }
    }

    /// The previous content, from the migrated one; nil when `new` is too
    /// short to be the text this patch was made from.
    public func apply(to new: String) -> String? {
        var new = new
        return new.withUTF8 { after -> String? in
            guard prefixLength + suffixLength <= after.count else { return nil }
            var bytes = [UInt8]()
            bytes.reserveCapacity(prefixLength + middle.count + suffixLength)
            bytes.append(contentsOf: after[0 ..< prefixLength])
            bytes.append(contentsOf: middle)
            bytes.append(contentsOf: after[(after.count - suffixLength)...])
            return String(validating: bytes, as: UTF8.self)
        }
    }
}
