import CLua
import CLuaShim
import KeepCore

/// Reading the option tables scripts pass (`keep.sessions.create{…}`):
/// unknown keys and wrong types are `invalid` errors that name what is allowed.
public struct OptionTable {
    public let stack: LuaStack
    public let index: Int32
    public let function: String

    /// Checks the table at `index` (nil means empty) has only `allowed` keys.
    public init(_ stack: LuaStack, _ index: Int32, function: String, allowed: [String]) throws {
        self.stack = stack
        self.index = stack.absolute(index)
        self.function = function
        switch stack.type(at: index) {
        case .none, .nil: return
        case .table: break
        default:
            throw KeepError(.invalid, "\(function): expected a table of options, got \(stack.typeName(at: index))")
        }
        lua_pushnil(stack.L)
        while keep_next(stack.L, self.index) == 1 {
            stack.pop()
            guard let key = stack.text(at: -1), allowed.contains(key) else {
                let name = stack.text(at: -1).map { "'\($0)'" } ?? "of type \(stack.typeName(at: -1))"
                stack.pop()
                throw KeepError(.invalid, "\(function): unknown option \(name); allowed: \(allowed.joined(separator: ", "))")
            }
        }
    }

    private var isTable: Bool { stack.type(at: index) == .table }

    /// [-0, +1] Pushes the field (nil when absent).
    @discardableResult
    public func push(_ key: String) -> LuaType {
        guard isTable else { stack.pushNil(); return .nil }
        return stack.pushField(key, of: index)
    }

    /// The string on top of the stack as text, or an error naming `key`.
    private func topText(_ key: String, hint: String = "") throws -> String {
        guard let text = stack.text(at: -1) else {
            throw KeepError(.invalid, "\(function): \(key) is not valid UTF-8\(hint)")
        }
        return text
    }

    public func text(_ key: String) throws -> String? {
        let type = push(key)
        defer { stack.pop() }
        switch type {
        case .nil: return nil
        case .string: return try topText(key)
        default:
            throw KeepError(.invalid, "\(function): \(key) must be a string, got \(stack.typeName(at: -1))")
        }
    }

    public func integer(_ key: String) throws -> Int64? {
        let type = push(key)
        defer { stack.pop() }
        switch type {
        case .nil: return nil
        case .number where stack.isInteger(at: -1):
            return lua_tointegerx(stack.L, -1, nil)
        default:
            throw KeepError(.invalid, "\(function): \(key) must be an integer, got \(stack.typeName(at: -1))")
        }
    }

    public func boolean(_ key: String) throws -> Bool? {
        let type = push(key)
        defer { stack.pop() }
        switch type {
        case .nil: return nil
        case .boolean: return lua_toboolean(stack.L, -1) != 0
        default:
            throw KeepError(.invalid, "\(function): \(key) must be a boolean, got \(stack.typeName(at: -1))")
        }
    }

    public func timestamp(_ key: String) throws -> Timestamp? {
        try text(key).map { text throws(KeepError) in try Timestamp(iso8601: text) }
    }

    /// Content as a string (stored as given) or a table (stored as canonical JSON).
    public func content(_ key: String) throws -> String? {
        let type = push(key)
        defer { stack.pop() }
        switch type {
        case .nil: return nil
        case .string: return try topText(key, hint: "; content must be UTF-8 text (normally JSON)")
        case .table:
            return try stack.canonicalJSON(at: -1)
        default:
            throw KeepError(.invalid, "\(function): content must be a string or a table, got \(stack.typeName(at: -1))")
        }
    }

    /// Content that must be given (creating a document): there is no
    /// default, since no string is valid JSON for every reader (`s:data()`).
    public func requiredContent(_ key: String) throws -> String {
        guard let content = try content(key) else {
            throw KeepError(.invalid, "\(function): \(key) is required: give a string (stored as it is, normally JSON) "
                + "or a table (stored as JSON), e.g. \(key) = {} for an empty document",
                details: ["field": .text(key)])
        }
        return content
    }

    /// A description: a string, or json.null to clear it. `.none` when absent.
    public func description(_ key: String) throws -> String?? {
        let type = push(key)
        defer { stack.pop() }
        switch type {
        case .nil: return .none
        case .string: return .some(try topText(key))
        case .userdata where stack.typeName(at: -1) == "json.null": return .some(nil)
        default:
            throw KeepError(.invalid, "\(function): \(key) must be a string or json.null, got \(stack.typeName(at: -1))")
        }
    }
}
