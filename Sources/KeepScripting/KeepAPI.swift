import CLua
import KeepCore
import KeepLua
import KeepStore

/// What a script's `keep` table acts on: the acting user and the services.
///
/// The store is opened on first use, so a script that never touches it does
/// not create a database file.
public final class ScriptContext: @unchecked Sendable {
    /// The acting user (`keep.user`). Used only on the script's thread.
    public var user: UserID
    public let clock: KeepClock
    private let openStorage: () throws -> any SessionStorage
    private var service: SessionService?

    public init(user: UserID, clock: KeepClock = .system, openStorage: @escaping () throws -> any SessionStorage) {
        self.user = user
        self.clock = clock
        self.openStorage = openStorage
    }

    public var sessions: SessionService {
        get throws {
            if let service { return service }
            let opened = SessionService(storage: try openStorage(), clock: clock)
            service = opened
            return opened
        }
    }
}

/// The `keep` table of SPEC §3 (this slice: `keep.user`, `keep.now`, `keep.sessions`).
public enum KeepAPI {
    /// Installs `keep` as a global of `state`.
    public static func install(in state: LuaState, context: ScriptContext) {
        let stack = state.stack
        let sessions = SessionObjects(context: context)
        stack.newTable(fieldCapacity: 4)
        stack.push(context.user)
        stack.setField("user", of: -2)
        stack.setFunction("now", of: -1) { stack in
            stack.push(context.clock.now().iso8601)
            return 1
        }
        stack.newTable(fieldCapacity: 6)
        stack.setFunction("create", of: -1) { stack in try sessions.create(stack) }
        stack.setFunction("get", of: -1) { stack in try sessions.get(stack) }
        stack.setFunction("update", of: -1) { stack in try sessions.update(stack) }
        stack.setFunction("delete", of: -1) { stack in try sessions.delete(stack) }
        stack.setFunction("list", of: -1) { stack in try sessions.list(stack) }
        stack.setFunction("each", of: -1) { stack in try sessions.each(stack) }
        stack.setField("sessions", of: -2)
        stack.setGlobal("keep")
    }
}
