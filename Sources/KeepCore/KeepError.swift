/// The one error type of Keep's domain: a stable code callers can match on, a
/// message a person can act on ("what was wrong and what is allowed"), and
/// details for programs.
///
/// ```swift
/// catch let error as KeepError where error.code == .conflict { … }
/// ```
public struct KeepError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A stable, lower-case error code (SPEC §1 "Errors").
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The input breaks a rule; the message says which and what is allowed.
        public static let invalid = Code(rawValue: "invalid")
        /// Absent, or not visible to the acting user (existence is never revealed).
        public static let notFound = Code(rawValue: "not_found")
        /// Visible but not the acting user's to change.
        public static let forbidden = Code(rawValue: "forbidden")
        /// The stored version moved on (optimistic concurrency).
        public static let conflict = Code(rawValue: "conflict")
        /// Content or a field is over its size limit.
        public static let tooLarge = Code(rawValue: "too_large")
        /// A policy script failed.
        public static let policy = Code(rawValue: "policy")
        /// A script hit its instruction, memory or time budget.
        public static let limit = Code(rawValue: "limit")
        /// Stopped on request (SIGINT).
        public static let interrupted = Code(rawValue: "interrupted")
        /// The database is busy or down; retrying may succeed.
        public static let unavailable = Code(rawValue: "unavailable")
        /// A bug or an unexpected system failure.
        public static let `internal` = Code(rawValue: "internal")

        /// Every code Keep produces.
        public static let all: [Code] = [
            .invalid, .notFound, .forbidden, .conflict, .tooLarge, .policy, .limit,
            .interrupted, .unavailable, .internal,
        ]
    }

    /// One value of `details`: text, an integer, a number or a flag, kept as
    /// its own type so that interfaces show a version or a size as a number
    /// (`e.details.version` is an integer in Lua), never as its digits.
    ///
    /// ```swift
    /// KeepError(.conflict, "…", details: ["id": .text(id.rawValue), "version": .integer(4)])
    /// ```
    public enum Detail: Equatable, Hashable, Sendable, CustomStringConvertible,
                        ExpressibleByStringInterpolation, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
        case text(String)
        case integer(Int64)
        case number(Double)
        case flag(Bool)

        public init(stringLiteral value: String) { self = .text(value) }
        public init(integerLiteral value: Int64) { self = .integer(value) }
        public init(booleanLiteral value: Bool) { self = .flag(value) }

        /// The text, when the detail is text.
        public var text: String? {
            if case .text(let text) = self { return text }
            return nil
        }

        /// The value as a person reads it (digits for numbers).
        public var description: String {
            switch self {
            case .text(let text): text
            case .integer(let value): String(value)
            case .number(let value): String(value)
            case .flag(let value): String(value)
            }
        }
    }

    public var code: Code
    public var message: String
    /// Machine-readable context (field names, limits, ids); never required to
    /// understand the message.
    public var details: [String: Detail]

    public init(_ code: Code, _ message: String, details: [String: Detail] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    /// `code: message`, the form every Keep interface prints.
    public var description: String { "\(code.rawValue): \(message)" }

}

extension KeepError.Code {
    /// Lets `catch KeepError.Code.conflict` match a thrown `KeepError` by code.
    public static func ~= (code: KeepError.Code, error: any Error) -> Bool {
        (error as? KeepError)?.code == code
    }
}
