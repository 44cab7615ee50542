import KeepCore
import KeepLua
import KeepWorkbench

/// Changing a working copy's content: `w:set(content)`, `w:data()`, `w:edit(fn)`.
extension WorkbenchObjects {
    func defineEditing() {
        hostClass.method("set") { [weak self] handle, stack in
            guard let self else { throw WorkbenchObjects.released }
            _ = try self.workbench
            try handle.copy.set(content: try Self.content(stack, 2, function: "WorkingCopy:set"))
            stack.pushCopy(of: 1)
            return 1
        }
        hostClass.method("data") { handle, stack in
            try stack.pushDecodedJSON(handle.copy.content)
            return 1
        }
        hostClass.method("edit") { [weak self] handle, stack in
            guard let self else { throw WorkbenchObjects.released }
            _ = try self.workbench
            try handle.copy.set(content: try Self.edited(handle.copy, stack))
            stack.pushCopy(of: 1)
            return 1
        }
    }

    /// w:edit(fn): calls fn (argument 2) with the decoded content; the content
    /// it changed in place, or the table or string it returned.
    private static func edited(_ copy: WorkingCopy, _ stack: LuaStack) throws -> String {
        guard stack.type(at: 2) == .function else {
            throw stack.argumentError(2, "function expected (it gets the decoded content to change, or returns new content), got \(stack.typeName(at: 2))")
        }
        try stack.pushDecodedJSON(copy.content)
        let data = stack.absolute(-1)
        stack.pushCopy(of: 2)
        stack.pushCopy(of: data)
        do throws(LuaError) {
            try stack.call(arguments: 1, results: 1)
        } catch {
            throw error.keepError ?? KeepError(.invalid, "WorkingCopy:edit: \(error.description)")
        }
        // The function may change the data in place or return a replacement.
        let returned = stack.type(at: -1) != .nil
        return try editResult(stack, at: returned ? stack.absolute(-1) : data, returned: returned)
    }

    /// The new content at `index`: what the edit function returned, or the data it changed.
    private static func editResult(_ stack: LuaStack, at index: Int32, returned: Bool) throws -> String {
        switch returned ? stack.type(at: index) : .table {
        case .string:
            guard let text = stack.text(at: index) else {
                throw KeepError(.invalid, "WorkingCopy:edit: the function returned a string that is not valid UTF-8")
            }
            return text
        case .table:
            return try stack.canonicalJSON(at: index)
        default:
            throw KeepError(.invalid, "WorkingCopy:edit: the function returned a \(stack.typeName(at: index)); "
                + "change the data in place and return nothing, or return a table or a string (the new content)")
        }
    }

    static func content(_ stack: LuaStack, _ index: Int32, function: String) throws -> String {
        switch stack.type(at: index) {
        case .string:
            guard let text = stack.text(at: index) else {
                throw KeepError(.invalid, "\(function): content is not valid UTF-8; content must be UTF-8 text (normally JSON)")
            }
            return text
        case .table: return try stack.canonicalJSON(at: index)
        default: throw stack.argumentError(index, "content (a string or a table) expected, got \(stack.typeName(at: index))")
        }
    }
}
