/// What a validation rule sees of a write (SPEC §4, `doc` of validation.lua).
public struct DocumentCandidate: Sendable {
    public enum Kind: String, Sendable { case session, snapshot }
    public enum Operation: String, Sendable { case create, update }

    public var kind: Kind
    public var operation: Operation
    public var owner: UserID
    public var title: String
    public var description: String?
    public var content: String
    /// Metadata of the stored document before an update.
    public var previous: Session?

    public init(kind: Kind, operation: Operation, owner: UserID, title: String, description: String?,
                content: String, previous: Session? = nil) {
        self.kind = kind
        self.operation = operation
        self.owner = owner
        self.title = title
        self.description = description
        self.content = content
        self.previous = previous
    }

    public var contentBytes: Int { content.utf8.count }
}

/// Decides whether a write is accepted: a policy set's validation.lua
/// (`PolicySet`), or `DefaultValidation`, the built-in set. Throws `invalid`
/// or `too_large`.
public protocol DocumentValidator: Sendable {
    func validate(_ candidate: DocumentCandidate) throws(KeepError)
}

extension DocumentValidator {
    /// How every write is checked: the hard ceilings, then this validator.
    public func admit(_ candidate: DocumentCandidate) throws(KeepError) {
        try HardCeilings.check(candidate)
        try validate(candidate)
    }
}

/// Limits no policy can lift (SPEC §4 "Hard ceilings in Swift"): a broken or
/// permissive policy can never let unbounded data in. Checked before any policy.
public enum HardCeilings {
    public static let contentBytes = 16 << 20
    public static let titleCharacters = 1_000
    public static let descriptionCharacters = 10_000

    public static func check(_ candidate: DocumentCandidate) throws(KeepError) {
        try Limits(contentBytes: contentBytes, titleCharacters: 1 ... titleCharacters,
                   descriptionCharacters: descriptionCharacters).check(candidate)
    }
}

/// Size and length limits. Characters are Unicode scalars (what the reference
/// backend's `len()` counts); titles are checked after trimming white space.
public struct Limits: Sendable, Equatable {
    public var contentBytes: Int
    public var titleCharacters: ClosedRange<Int>
    public var descriptionCharacters: Int

    public init(contentBytes: Int, titleCharacters: ClosedRange<Int>, descriptionCharacters: Int) {
        self.contentBytes = contentBytes
        self.titleCharacters = titleCharacters
        self.descriptionCharacters = descriptionCharacters
    }

    public func check(_ candidate: DocumentCandidate) throws(KeepError) {
        let bytes = candidate.contentBytes
        if bytes > contentBytes {
            var sizes = (Self.mebibytes(bytes), Self.mebibytes(contentBytes))
            if sizes.0 == sizes.1 { sizes = ("\(bytes) bytes", "\(contentBytes) bytes (\(sizes.1))") }
            throw KeepError(.tooLarge, "content is \(sizes.0); the limit is \(sizes.1)",
                            details: ["field": "content", "bytes": .integer(Int64(bytes)), "limit": .integer(Int64(contentBytes))])
        }
        let title = candidate.title.trimmingWhitespace().unicodeScalars.count
        if !titleCharacters.contains(title) {
            throw KeepError(.invalid, title == 0
                ? "title is empty; a title is required"
                : "title is \(title) characters; the limit is \(titleCharacters.lowerBound) to \(titleCharacters.upperBound)",
                details: ["field": "title"])
        }
        if let description = candidate.description?.unicodeScalars.count, description > descriptionCharacters {
            throw KeepError(.invalid, "description is \(description) characters; the limit is \(descriptionCharacters)",
                            details: ["field": "description"])
        }
    }

    /// "2.31 MiB" — the unit of the reference's message.
    static func mebibytes(_ bytes: Int) -> String {
        let hundredths = (bytes * 100 + (1 << 19)) >> 20
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) MiB"
    }
}

/// The reference system's limits: content ≤ 1.5 MiB (1,572,864 bytes), title
/// 1–50 characters after trimming, description ≤ 250 characters.
public struct DefaultValidation: DocumentValidator {
    public static let limits = Limits(contentBytes: 1_572_864, titleCharacters: 1 ... 50, descriptionCharacters: 250)

    public init() {}

    public func validate(_ candidate: DocumentCandidate) throws(KeepError) {
        try Self.limits.check(candidate)
    }
}

extension String {
    /// The string without leading and trailing Unicode white space.
    public func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first ... last])
    }
}
