import KeepCore
import KeepLua
import KeepStore
import KeepWorkbench

/// Keeping a working copy in step with the store: `w:poll()`,
/// `w:reload{discard=}`, `w:close{discard=}`.
extension WorkbenchObjects {
    func defineSyncing() {
        hostClass.method("poll") { [weak self] handle, stack in
            guard let self else { throw WorkbenchObjects.released }
            let workbench = try self.workbench
            let copy = handle.copy
            stack.push(try blocking { try await workbench.poll(copy) })
            return 1
        }
        hostClass.method("reload") { [weak self] handle, stack in
            guard let self else { throw WorkbenchObjects.released }
            let discard = try Self.discardOption(stack, function: "WorkingCopy:reload")
            let workbench = try self.workbench
            let copy = handle.copy
            try blocking { try await workbench.reload(copy, discard: discard) }
            stack.pushCopy(of: 1)
            return 1
        }
        hostClass.method("close") { [weak self] handle, stack in
            guard let self else { throw WorkbenchObjects.released }
            let discard = try Self.discardOption(stack, function: "WorkingCopy:close")
            stack.push(try self.workbench.close(handle.copy, discard: discard).rawValue)
            return 1
        }
    }

    /// `{discard = true}` at argument 2 (false when not given).
    private static func discardOption(_ stack: LuaStack, function: String) throws -> Bool {
        let options = try OptionTable(stack, 2, function: function, allowed: ["discard"])
        return try options.boolean("discard") ?? false
    }
}
