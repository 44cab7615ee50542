import Foundation

/// The rule for user ids (SPEC §1 "User ids"), in one place for every way an
/// id comes in: `--user`, `KEEP_USER`, the REPL's `.user`, `keep.as`, and
/// (phase C) tokens and JWT claims.
///
/// An id is valid UTF-8, 1 to 128 bytes once normalized to Unicode NFC, with
/// no control characters and no white space at either end. Ids are compared
/// after normalization, so a composed and a decomposed `Zoë` are one user.
/// Anything else is refused with `invalid`, never repaired or guessed.
///
/// ```swift
/// let user = try UserID(checking: Array("Zoe\u{308}".utf8))   // "Zoë", composed
/// ```
extension UserID {
    /// The longest id, in UTF-8 bytes after normalization.
    public static let maximumUserIDBytes = 128

    /// What an id may be, for messages.
    public static let userIDRule = "a user id is 1 to 128 bytes of UTF-8 (after NFC normalization), "
        + "with no control characters and no white space at the start or end"

    /// Validates and normalizes an id given as bytes (argv, the environment,
    /// a Lua string): invalid UTF-8 is refused, not turned into U+FFFD.
    public init(checking bytes: some Collection<UInt8>) throws(KeepError) {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Self.invalidUserID(String(decoding: bytes, as: UTF8.self), "is not valid UTF-8")
        }
        try self.init(checking: text)
    }

    /// Validates and normalizes an id given as text.
    public init(checking text: String) throws(KeepError) {
        let normalized = text.precomposedStringWithCanonicalMapping
        if normalized.isEmpty { throw Self.invalidUserID(normalized, "is empty") }
        if normalized.utf8.count > Self.maximumUserIDBytes {
            throw Self.invalidUserID(normalized, "is \(normalized.utf8.count) bytes long")
        }
        if let control = normalized.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
            throw Self.invalidUserID(normalized, "contains the control character \(String(format: "U+%04X", control.value))")
        }
        if normalized.unicodeScalars.first!.properties.isWhitespace
            || normalized.unicodeScalars.last!.properties.isWhitespace {
            throw Self.invalidUserID(normalized, "starts or ends with white space")
        }
        self = normalized
    }

    private static func invalidUserID(_ text: String, _ problem: String) -> KeepError {
        // Control characters are shown escaped so the message stays on one line.
        var shown = ""
        for scalar in text.unicodeScalars.prefix(40) {
            shown += scalar.properties.generalCategory == .control
                ? scalar.escaped(asASCII: true) : String(scalar)
        }
        if text.unicodeScalars.count > 40 { shown += "…" }
        return KeepError(.invalid, "the user id '\(shown)' \(problem); \(userIDRule)",
                         details: ["field": "user"])
    }
}
