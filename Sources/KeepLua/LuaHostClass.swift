import CLua
import CLuaShim
import KeepCore

/// How instances of a Swift class appear in Lua: full userdata with methods
/// (`obj:name(…)`), properties (`obj.name`, optionally settable), `__tostring`,
/// `__name`, and a `__gc` that releases the Swift reference (SPEC §2, point 4).
///
/// ```swift
/// let sessions = LuaHostClass<Session>(name: "Session") { "Session<\($0.id)>" }
/// sessions.property("id") { session, stack in stack.push(session.id) }
/// sessions.method("data") { session, stack in …; return 1 }
/// stack.push(session, as: sessions)
/// ```
///
/// The metatable is created in each state on first push and hidden from
/// scripts (`__metatable = false`), so scripts cannot alter it.
public final class LuaHostClass<Object: AnyObject> {
    public typealias Method = (Object, LuaStack) throws -> Int32
    /// Pushes exactly one value.
    public typealias Getter = (Object, LuaStack) throws -> Void
    /// Reads the new value at stack index 3.
    public typealias Setter = (Object, LuaStack) throws -> Void

    /// The type name scripts see (`__name`, error messages).
    public let name: String
    private let registryName: String
    private let describe: (Object) -> String
    private var methods: [String: Method] = [:]
    private var getters: [String: Getter] = [:]
    private var setters: [String: Setter] = [:]

    public init(name: String, describe: @escaping (Object) -> String) {
        self.name = name
        self.registryName = "keep.class." + name
        self.describe = describe
    }

    public func method(_ name: String, _ body: @escaping Method) { methods[name] = body }

    public func property(_ name: String, get: @escaping Getter, set: Setter? = nil) {
        getters[name] = get
        if let set { setters[name] = set }
    }

    /// Method and property names. The metatable lists them too (`__methods`
    /// keys, `__fields` values), so the REPL completes them from Lua alone.
    public var memberNames: (methods: [String], properties: [String]) {
        (methods.keys.sorted(), getters.keys.sorted())
    }

    /// [-0, +1] Pushes this class's metatable, creating it in this state on first use.
    fileprivate func pushMetatable(_ stack: LuaStack) {
        guard keep_host_metatable(stack.L, registryName) == 1 else { return }
        stack.push(name)
        stack.setField("__name", of: -2)
        stack.push(false)
        stack.setField("__metatable", of: -2)
        stack.newTable(fieldCapacity: Int32(methods.count))
        for (methodName, body) in methods {
            stack.setFunction(methodName, of: -1) { stack in
                guard let object = try self.check(stack, 1, for: methodName) else {
                    throw KeepError(.invalid, "\(self.name) was released")
                }
                return try body(object, stack)
            }
        }
        stack.setField("__methods", of: -2)
        stack.newTable(arrayCapacity: Int32(getters.count))
        for (position, field) in getters.keys.sorted().enumerated() {
            stack.push(field)
            stack.setIndex(Int64(position + 1), of: -2)
        }
        stack.setField("__fields", of: -2)
        stack.setFunction("__index", of: -1) { stack in try self.index(stack) }
        stack.setFunction("__newindex", of: -1) { stack in try self.newIndex(stack) }
        stack.setFunction("__tostring", of: -1) { stack in
            stack.push(try self.check(stack, 1, for: "__tostring").map(self.describe) ?? "\(self.name)<released>")
            return 1
        }
    }

    /// The object at `index`: nil when it is of this class but already released.
    private func check(_ stack: LuaStack, _ index: Int32, for member: String) throws -> Object? {
        guard stack.isObject(index, of: registryName) else {
            throw KeepError(.invalid, "bad self for '\(member)' (\(name) expected, got \(stack.typeName(at: index))); call methods with ':'")
        }
        return stack.object(at: index, as: self)
    }

    private func index(_ stack: LuaStack) throws -> Int32 {
        guard let key = stack.text(at: 2), stack.isObject(1, of: registryName), stack.pushMetatable(of: 1),
              stack.pushField("__methods", of: -1) == .table
        else { stack.pushNil(); return 1 }
        if stack.pushField(key, of: -1) != .nil { return 1 }
        guard let getter = getters[key] else { stack.pushNil(); return 1 }
        guard let object = stack.object(at: 1, as: self) else {
            throw KeepError(.invalid, "\(name) was released")
        }
        let top = stack.top
        try getter(object, stack)
        stack.assertTop(top + 1, "getter of \(name).\(key)")
        return 1
    }

    private func newIndex(_ stack: LuaStack) throws -> Int32 {
        let key = stack.text(at: 2) ?? stack.describe(at: 2)
        guard let setter = setters[key] else {
            let settable = setters.keys.sorted()
            throw KeepError(.invalid, "cannot set field '\(key)' of \(name)"
                + (settable.isEmpty ? "; it has no settable fields" : "; settable: \(settable.joined(separator: ", "))"))
        }
        guard let object = stack.object(at: 1, as: self) else {
            throw KeepError(.invalid, "\(name) was released")
        }
        let top = stack.top
        try setter(object, stack)
        stack.assertTop(top, "setter of \(name).\(key)")
        return 0
    }

    fileprivate var metatableName: String { registryName }
}

extension LuaStack {
    /// [-0, +1] Pushes `object` as a userdata of `hostClass`; Lua holds one
    /// retain until the userdata is collected.
    public func push<Object>(_ object: Object, as hostClass: LuaHostClass<Object>) {
        hostClass.pushMetatable(self)
        pop()
        keep_push_host_object(L, Unmanaged.passRetained(object as AnyObject).toOpaque(), hostClass.metatableName)
    }

    /// The object at `index` when it is a live userdata of `hostClass`.
    public func object<Object>(at index: Int32, as hostClass: LuaHostClass<Object>) -> Object? {
        guard let reference = keep_host_object(L, index, hostClass.metatableName) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(reference).takeUnretainedValue() as? Object
    }

    /// The object at `index`, or an `invalid` argument error.
    public func checkObject<Object>(_ index: Int32, as hostClass: LuaHostClass<Object>) throws(KeepError) -> Object {
        guard let object = object(at: index, as: hostClass) else {
            throw argumentError(index, "\(hostClass.name) expected, got \(typeName(at: index))")
        }
        return object
    }

    /// Whether the value at `index` is a userdata with the metatable `registryName`.
    fileprivate func isObject(_ index: Int32, of registryName: String) -> Bool {
        luaL_testudata(L, index, registryName) != nil
    }
}
