#if canImport(Glibc)
import Glibc
#endif
import KeepCore
import KeepLua
import KeepStore
import KeepWorkbench

/// A working copy as scripts hold it.
final class WorkingCopyHandle {
    let copy: WorkingCopy
    let workbench: Workbench
    init(_ copy: WorkingCopy, workbench: Workbench) {
        self.copy = copy
        self.workbench = workbench
    }
}

/// `keep.workbench.*`, WorkingCopy objects and `keep.activity` (SPEC §5).
///
/// Every call first runs the timers that are due and delivers the activity
/// changes made meanwhile, so a script's edits reach the recovery journal and
/// its copies are polled while it works, without a thread of its own touching
/// the script's copies or its Lua state. Not `Sendable`: used on the state's thread only.
final class WorkbenchObjects {
    let context: ScriptContext
    let hostClass: LuaHostClass<WorkingCopyHandle>
    let activitySubscribers: ActivitySubscribers
    weak var snapshots: SnapshotObjects?
    /// For `open` given a Session object.
    weak var sessions: SessionObjects?

    init(context: ScriptContext, state: LuaState) {
        self.context = context
        hostClass = LuaHostClass<WorkingCopyHandle>(name: "WorkingCopy") { handle in
            let copy = handle.copy
            let id = copy.sessionID?.rawValue ?? "new"
            let flags = (copy.hasChanges ? " modified" : "") + (copy.outOfSync ? " out-of-sync" : "")
                + (copy.isClosed ? " closed" : "")
            return "WorkingCopy<\(id) \"\(copy.title)\"\(flags)>"
        }
        activitySubscribers = ActivitySubscribers(observer: context.activity, state: state)
        defineFields()
        defineMethods()
    }

    /// What a method of an object outliving the `keep` API raises.
    static let released = KeepError.releasedAPI

    /// The workbench, after running the timers that are due and delivering activity changes.
    var workbench: Workbench {
        get throws {
            let workbench = try context.workbench
            context.runDueTimers()
            activitySubscribers.deliver()
            return workbench
        }
    }

    private func defineFields() {
        func optional(_ stack: LuaStack, _ value: String?) {
            if let value { stack.push(value) } else { stack.pushNil() }
        }
        let fields: [(String, (WorkingCopy, LuaStack) -> Void)] = [
            ("id", { optional($1, $0.sessionID?.rawValue) }),
            ("copy_id", { $1.push($0.copyID) }),
            ("owner", { $1.push($0.owner) }),
            ("content", { $1.push($0.content) }),
            ("has_changes", { $1.push($0.hasChanges) }),
            ("out_of_sync", { $1.push($0.outOfSync) }),
            ("last_modified", { optional($1, $0.lastModified?.iso8601) }),
            ("last_persisted", { optional($1, $0.lastPersisted?.iso8601) }),
            ("backend_version", { copy, stack in if let version = copy.backendVersion { stack.push(version) } else { stack.pushNil() } }),
            ("base_version", { copy, stack in if let version = copy.baseVersion { stack.push(version) } else { stack.pushNil() } }),
            ("deleted", { $1.push($0.backendDeleted) }),
            ("saving", { $1.push($0.isSaving) }),
            ("closed", { $1.push($0.isClosed) }),
        ]
        for (name, get) in fields {
            hostClass.property(name, get: { handle, stack in get(handle.copy, stack) })
        }
        hostClass.property("title", get: { handle, stack in stack.push(handle.copy.title) }, set: { handle, stack in
            guard stack.type(at: 3) == .string, let title = stack.text(at: 3) else {
                throw KeepError(.invalid, "WorkingCopy.title must be a string, got \(stack.typeName(at: 3))")
            }
            try handle.copy.set(title: title)
        })
        hostClass.property("description", get: { handle, stack in optional(stack, handle.copy.description) },
                           set: { handle, stack in
            switch stack.type(at: 3) {
            case .nil: try handle.copy.set(description: nil)
            case .userdata where stack.typeName(at: 3) == "json.null": try handle.copy.set(description: nil)
            default:
                guard stack.type(at: 3) == .string, let text = stack.text(at: 3) else {
                    throw KeepError(.invalid, "WorkingCopy.description must be a string, nil or json.null, got \(stack.typeName(at: 3))")
                }
                try handle.copy.set(description: text)
            }
        })
    }

    /// The methods of WorkingCopy objects, by concern (WorkbenchObjects+….swift).
    private func defineMethods() {
        defineEditing()
        defineSaving()
        defineSyncing()
    }

    func push(_ copy: WorkingCopy, workbench: Workbench, on stack: LuaStack) {
        stack.push(WorkingCopyHandle(copy, workbench: workbench), as: hostClass)
    }

    // MARK: keep.workbench

    /// keep.workbench.open(id or Session).
    func open(_ stack: LuaStack) throws -> Int32 {
        let id: ResourceID
        if let session = sessions?.sessionID(stack, 1) {
            id = session
        } else {
            id = try ResourceID(try stack.checkText(1))
        }
        let (workbench, user) = (try self.workbench, context.user)
        push(try blocking { try await workbench.open(id, as: user) }, workbench: workbench, on: stack)
        return 1
    }

    func new(_ stack: LuaStack) throws -> Int32 {
        let options = try OptionTable(stack, 1, function: "keep.workbench.new", allowed: ["title", "description", "content"])
        guard let title = try options.text("title") else {
            throw KeepError(.invalid, "keep.workbench.new: title is required")
        }
        let workbench = try self.workbench
        let copy = try workbench.new(as: context.user, title: title, description: try options.description("description") ?? nil,
                                     content: try options.requiredContent("content"))
        push(copy, workbench: workbench, on: stack)
        return 1
    }

    /// keep.workbench.recoverable() → a list of {copy_id, session_id, title, description, modified_at, bytes, base_version, pid, running}.
    func recoverable(_ stack: LuaStack) throws -> Int32 {
        let workbench = try self.workbench
        let entries = workbench.recoverable(as: context.user)
        stack.newTable(arrayCapacity: Int32(entries.count))
        for (index, entry) in entries.enumerated() {
            stack.newTable(fieldCapacity: 8)
            stack.push(entry.copyID); stack.setField("copy_id", of: -2)
            if let id = entry.sessionID { stack.push(id); stack.setField("session_id", of: -2) }
            stack.push(entry.title); stack.setField("title", of: -2)
            if let description = entry.description { stack.push(description); stack.setField("description", of: -2) }
            stack.push(Timestamp(millisecondsSinceEpoch: entry.modifiedAt).iso8601); stack.setField("modified_at", of: -2)
            stack.push(Int64(entry.content.utf8.count)); stack.setField("bytes", of: -2)
            if let base = entry.base { stack.push(base.version); stack.setField("base_version", of: -2) }
            stack.push(Int64(entry.processID)); stack.setField("pid", of: -2)
            stack.push(workbench.journal.isOpenElsewhere(copyID: entry.copyID)); stack.setField("running", of: -2)
            stack.setIndex(Int64(index + 1), of: -2)
        }
        return 1
    }

    /// keep.workbench.recover(entry or copy_id) → WorkingCopy.
    func recover(_ stack: LuaStack) throws -> Int32 {
        let copyID = try journalEntryID(stack, 1)
        let (workbench, user) = (try self.workbench, context.user)
        push(try blocking { try await workbench.recover(copyID, as: user) }, workbench: workbench, on: stack)
        return 1
    }

    /// keep.workbench.discard(entry or copy_id): deletes a journaled copy
    /// not wanted back (an entry of keep.workbench.recoverable()).
    func discard(_ stack: LuaStack) throws -> Int32 {
        let copyID = try journalEntryID(stack, 1)
        let (workbench, user) = (try self.workbench, context.user)
        try workbench.discard(copyID, as: user)
        return 0
    }

    /// The copy id of argument `index`: an entry of keep.workbench.recoverable(), or the id itself.
    private func journalEntryID(_ stack: LuaStack, _ index: Int32) throws -> String {
        switch stack.type(at: index) {
        case .table:
            guard let id = stack.rawField("copy_id", of: index).text else {
                throw stack.argumentError(index, "an entry of keep.workbench.recoverable() expected (it has no copy_id)")
            }
            return id
        case .string: return try stack.checkText(index)
        default:
            throw stack.argumentError(index, "an entry of keep.workbench.recoverable() or its copy_id expected, got \(stack.typeName(at: index))")
        }
    }

    /// keep.workbench.copies() → the working copies open in this process.
    func copies(_ stack: LuaStack) throws -> Int32 {
        let workbench = try self.workbench
        let copies = workbench.openCopies
        stack.newTable(arrayCapacity: Int32(copies.count))
        for (index, copy) in copies.enumerated() {
            push(copy, workbench: workbench, on: stack)
            stack.setIndex(Int64(index + 1), of: -2)
        }
        return 1
    }

    /// keep.workbench.wait(ms): runs the host's timers for `ms` milliseconds
    /// (a script's way to let the journal debounce and polls happen).
    func wait(_ stack: LuaStack) throws -> Int32 {
        let milliseconds = try stack.checkInteger(1)
        guard (0 ... 3_600_000).contains(milliseconds) else {
            throw stack.argumentError(1, "a wait of 0 to 3600000 ms expected, got \(milliseconds)")
        }
        _ = try self.workbench
        let clock = context.clock
        let end = clock.now().millisecondsSinceEpoch + milliseconds
        // The script's time budget ends the wait too; its hook then stops the script.
        let budgetEnd = stack.budgetDeadline
        while true {
            context.runDueTimers()
            activitySubscribers.deliver()
            let now = clock.now().millisecondsSinceEpoch
            guard now < end else { break }
            let next = context.timers.nextDeadline?.millisecondsSinceEpoch ?? end
            let pause = max(1, min(end, next) - now)
            guard try Self.sleep(milliseconds: pause, until: budgetEnd, interruptible: stack.isInterruptible) else { break }
        }
        return 0
    }

    /// Sleeps; false when Ctrl-C or the budget's deadline cut it short. In an
    /// interruptible call a Ctrl-C stays pending, so the count hook stops the
    /// script with an error `pcall` cannot catch, as everywhere else; in any
    /// other call the wait raises `interrupted` itself.
    private static func sleep(milliseconds: Int64, until deadline: Int64?, interruptible: Bool) throws -> Bool {
        var remaining = milliseconds
        while remaining > 0 {
            if LuaState.takeInterrupt() {
                guard interruptible else { throw KeepError(.interrupted, "interrupted while waiting") }
                LuaState.requestInterrupt()
                return false
            }
            if let deadline, LuaBudget.monotonicNow() >= deadline { return false }
            let step = min(remaining, 20)
            var pause = timespec(tv_sec: 0, tv_nsec: Int(step) * 1_000_000)
            nanosleep(&pause, nil)
            remaining -= step
        }
        return true
    }
}
