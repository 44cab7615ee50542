import KeepCore
import KeepLua
import KeepStore

/// A session as scripts hold it: a snapshot of the stored row plus the
/// context its methods act in.
final class SessionHandle {
    var session: Session
    let context: ScriptContext
    init(_ session: Session, context: ScriptContext) {
        self.session = session
        self.context = context
    }
}

/// `keep.sessions.*` and the Session objects they return (SPEC §3). Not
/// `Sendable`: its functions run on the Lua state's thread only.
final class SessionObjects {
    let context: ScriptContext
    let hostClass: LuaHostClass<SessionHandle>
    /// Set once the snapshot API exists (for `Session:snapshot`).
    weak var snapshots: SnapshotObjects?

    static let listOptions = ["sort_by", "direction", "page_size", "page_token", "title_contains",
                              "created_from", "created_to", "updated_from", "updated_to"]

    init(context: ScriptContext) {
        self.context = context
        hostClass = LuaHostClass<SessionHandle>(name: "Session") { handle in
            let session = handle.session
            return "Session<\(session.id) \"\(session.title)\" v\(session.version)>"
        }
        defineFields()
        defineMethods()
    }

    private func defineFields() {
        let fields: [(String, (Session, LuaStack) -> Void)] = [
            ("id", { $1.push($0.id.rawValue) }),
            ("owner", { $1.push($0.owner) }),
            ("title", { $1.push($0.title) }),
            ("description", { session, stack in
                if let description = session.description { stack.push(description) } else { stack.pushNil() }
            }),
            ("content", { $1.push($0.content) }),
            ("hash", { $1.push($0.hash.hex) }),
            ("version", { $1.push($0.version) }),
            ("created_at", { $1.push($0.createdAt.iso8601) }),
            ("updated_at", { $1.push($0.updatedAt.iso8601) }),
        ]
        for (name, get) in fields {
            hostClass.property(name, get: { handle, stack in get(handle.session, stack) })
        }
    }

    private func defineMethods() {
        hostClass.method("data") { handle, stack in
            try stack.pushDecodedJSON(handle.session.content)
            return 1
        }
        hostClass.method("update") { [weak self] handle, stack in
            guard let self else { throw KeepError.releasedAPI }
            let changes = try self.changes(stack, 2, function: "Session:update")
            let (user, id, service) = (handle.context.user, handle.session.id, try handle.context.sessions)
            handle.session = try blocking { try await service.update(as: user, id: id, changes) }
            stack.pushCopy(of: 1)
            return 1
        }
        // Snapshots what the object shows, and only while that is what is
        // stored: an object read before an update is refused as `conflict`.
        hostClass.method("snapshot") { [weak self] handle, stack in
            guard let self else { throw KeepError.releasedAPI }
            let options = try OptionTable(stack, 2, function: "Session:snapshot", allowed: ["title", "description"])
            let session = handle.session
            guard let snapshots = self.snapshots else { throw KeepError(.internal, "snapshots are not installed") }
            let (user, service) = (handle.context.user, try handle.context.sessions)
            let stored = try blocking { try await service.get(as: user, id: session.id) }
            guard stored.version == session.version else {
                throw KeepError(.conflict, "session \(session.id) is at version \(stored.version), this object holds version "
                    + "\(session.version); read it again (keep.sessions.get) and snapshot that",
                    details: ["id": .text(session.id.rawValue), "version": .integer(stored.version),
                              "object_version": .integer(session.version)])
            }
            return try snapshots.create(title: try options.text("title") ?? session.title,
                                        description: try options.description("description") ?? session.description,
                                        content: session.content, on: stack)
        }
        hostClass.method("delete") { handle, _ in
            let (user, id, service) = (handle.context.user, handle.session.id, try handle.context.sessions)
            try blocking { try await service.delete(as: user, id: id) }
            return 0
        }
    }

    func push(_ session: Session, on stack: LuaStack) {
        stack.push(SessionHandle(session, context: context), as: hostClass)
    }

    /// The id of the Session object at `index`, if it is one.
    func sessionID(_ stack: LuaStack, _ index: Int32) -> ResourceID? {
        stack.object(at: index, as: hostClass)?.session.id
    }

    /// An id argument: a string id or a Session object.
    func id(_ stack: LuaStack, _ index: Int32) throws -> ResourceID {
        if let handle = stack.object(at: index, as: hostClass) { return handle.session.id }
        return try ResourceID(try stack.checkText(index))
    }

    func changes(_ stack: LuaStack, _ index: Int32, function: String) throws -> SessionChanges {
        let options = try OptionTable(stack, index, function: function,
                                      allowed: ["title", "description", "content", "expected_version"])
        return SessionChanges(title: try options.text("title"), description: try options.description("description"),
                              content: try options.content("content"),
                              expectedVersion: try options.integer("expected_version"))
    }

    // MARK: keep.sessions

    func create(_ stack: LuaStack) throws -> Int32 {
        let options = try OptionTable(stack, 1, function: "keep.sessions.create",
                                      allowed: ["title", "description", "content"])
        guard let title = try options.text("title") else {
            throw KeepError(.invalid, "keep.sessions.create: title is required")
        }
        let description = try options.description("description") ?? nil
        let content = try options.requiredContent("content")
        let (user, service) = (context.user, try context.sessions)
        let session = try blocking { try await service.create(as: user, title: title, description: description, content: content) }
        push(session, on: stack)
        return 1
    }

    func get(_ stack: LuaStack) throws -> Int32 {
        let id = try self.id(stack, 1)
        let (user, service) = (context.user, try context.sessions)
        push(try blocking { try await service.get(as: user, id: id) }, on: stack)
        return 1
    }

    func update(_ stack: LuaStack) throws -> Int32 {
        let id = try self.id(stack, 1)
        let changes = try self.changes(stack, 2, function: "keep.sessions.update")
        let (user, service) = (context.user, try context.sessions)
        push(try blocking { try await service.update(as: user, id: id, changes) }, on: stack)
        return 1
    }

    func delete(_ stack: LuaStack) throws -> Int32 {
        let id = try self.id(stack, 1)
        let (user, service) = (context.user, try context.sessions)
        try blocking { try await service.delete(as: user, id: id) }
        return 0
    }

    func query(_ stack: LuaStack, _ index: Int32, function: String) throws -> SessionQuery {
        try SnapshotObjects.query(try OptionTable(stack, index, function: function, allowed: Self.listOptions))
    }

    /// keep.sessions.list{…} → {items = {Session…}, next_token = string|nil}
    func list(_ stack: LuaStack) throws -> Int32 {
        let query = try self.query(stack, 1, function: "keep.sessions.list")
        let (user, service) = (context.user, try context.sessions)
        let page = try blocking { try await service.list(as: user, query) }
        ScriptPages.push(page, on: stack) { push($0, on: stack) }
        return 1
    }

    /// keep.sessions.each{…} → an iterator over every matching session, page by page.
    func each(_ stack: LuaStack) throws -> Int32 {
        let cursor = PagedIterator(query: try self.query(stack, 1, function: "keep.sessions.each"))
        stack.pushFunction(named: "keep.sessions.each iterator") { [self] stack in
            guard let session = try cursor.next(user: context.user, service: try context.sessions) else { return 0 }
            push(session, on: stack)
            return 1
        }
        return 1
    }
}

/// The state of a `keep.sessions.each` loop (on the Lua state's thread).
final class PagedIterator {
    private var query: SessionQuery
    private var buffer: [Session] = []
    private var finished = false

    init(query: SessionQuery) {
        self.query = query
        if self.query.pageSize == nil { self.query.pageSize = PageSize.maximum }
    }

    func next(user: UserID, service: SessionService) throws -> Session? {
        if buffer.isEmpty && !finished {
            let query = self.query
            let page = try blocking { try await service.list(as: user, query) }
            buffer = page.items.reversed()
            if let token = page.nextToken { self.query.pageToken = token } else { finished = true }
        }
        return buffer.popLast()
    }
}
