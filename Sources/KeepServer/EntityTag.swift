import HTTPTypes
import KeepCore

/// A session's entity tag: its version, as a strong tag (`"7"`), and the
/// `If-Match` precondition of PUT and DELETE (RFC 9110 §13.1.1; SPEC §8).
enum EntityTag {
    /// `"<version>"`.
    static func of(version: Int64) -> String { "\"\(version)\"" }

    /// What an `If-Match` header asks.
    enum Precondition: Equatable {
        /// No `If-Match`: last write wins (unless the save policy requires one).
        case none
        /// `*`: the session must exist.
        case any
        /// One of these versions must be current; empty when only weak or
        /// foreign tags were sent, which never match.
        case versions(Set<Int64>)
    }

    /// Parses every `If-Match` field of `fields`; a malformed one answers 400.
    static func precondition(_ fields: HTTPFields) throws(APIError) -> Precondition {
        let values = fields[values: .ifMatch]
        guard !values.isEmpty else { return .none }
        var versions = Set<Int64>()
        var sawAny = false
        var count = 0
        for value in values {
            var rest = Substring(value)
            while true {
                rest = rest.drop { $0 == " " || $0 == "\t" }
                if rest.isEmpty { break }
                count += 1
                if rest.first == "*" {
                    sawAny = true
                    rest = rest.dropFirst()
                } else {
                    let weak = rest.hasPrefix("W/")
                    if weak { rest = rest.dropFirst(2) }
                    guard rest.first == "\"", let close = rest.dropFirst().firstIndex(of: "\"") else {
                        throw malformed(value)
                    }
                    let opaque = rest[rest.index(after: rest.startIndex) ..< close]
                    // etagc: %x21 / %x23-7E / obs-text; never a control character or a space.
                    guard opaque.unicodeScalars.allSatisfy({ $0.value == 0x21 || ($0.value >= 0x23 && $0.value != 0x7F) }) else {
                        throw malformed(value)
                    }
                    // Weak tags never match (strong comparison); neither do tags Keep never sent.
                    if !weak, let version = Int64(opaque), opaque.first != "+", opaque.first != "-" { versions.insert(version) }
                    rest = rest[rest.index(after: close)...]
                }
                rest = rest.drop { $0 == " " || $0 == "\t" }
                if rest.isEmpty { break }
                guard rest.first == "," else { throw malformed(value) }
                rest = rest.dropFirst()
            }
        }
        guard count > 0 else { throw malformed(values.joined(separator: ", ")) }
        if sawAny {
            // `*` stands alone (RFC 9110: If-Match = "*" / #entity-tag).
            guard count == 1 else { throw malformed(values.joined(separator: ", ")) }
            return .any
        }
        return .versions(versions)
    }

    private static func malformed(_ value: String) -> APIError {
        APIError.badRequest("If-Match '\(value.prefix(80))' is malformed; send * or entity tags such as \"3\" (the ETag a GET answered)",
                            details: ["header": "If-Match"])
    }
}
