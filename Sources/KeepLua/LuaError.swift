import KeepCore

/// Why a Lua chunk failed to load or run.
///
/// `keepError` is set when the error value was a Keep error (a table with
/// `code` and `message`, raised by a host function or by the script) or when a
/// budget stopped the call; `message` is then `code: message`. Otherwise the
/// error was an ordinary Lua error and `message` is its text, normally
/// `chunkname:line: message`.
public struct LuaError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The chunk did not compile.
        case syntax
        /// The chunk raised an error while running.
        case runtime
    }

    public var kind: Kind
    public var message: String
    public var keepError: KeepError?
    /// `chunkname:line:` of the Lua code that called the failing host function.
    public var location: String?
    /// `stack traceback:` lines, when a traceback was recorded.
    public var traceback: String?

    public init(kind: Kind, message: String, keepError: KeepError? = nil,
                location: String? = nil, traceback: String? = nil) {
        self.kind = kind
        self.message = message
        self.keepError = keepError
        self.location = location
        self.traceback = traceback
    }

    public var description: String {
        if let location, !location.isEmpty { return "\(location) \(message)" }
        return message
    }

    /// The error as a `KeepError`: the Keep error it carries, or `fallback`
    /// with the Lua message (for example `.policy` for a failing policy).
    public func asKeepError(fallback: KeepError.Code) -> KeepError {
        if let keepError { return keepError }
        return KeepError(fallback, message)
    }
}
