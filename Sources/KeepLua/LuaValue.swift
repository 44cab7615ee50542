/// A Lua value copied out of (or into) a state. Strings are bytes, as in Lua;
/// integers and floats stay distinct (Lua 5.4 §2.1).
public enum LuaValue: Equatable, Hashable, Sendable {
    case `nil`
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    case string([UInt8])
    /// A value that cannot be copied out (table, function, userdata, thread);
    /// the associated text is its type name.
    case opaque(String)

    public init(_ text: String) { self = .string(Array(text.utf8)) }

    /// The string as UTF-8 text, when it is a string holding valid UTF-8.
    public var text: String? {
        guard case .string(let bytes) = self else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
