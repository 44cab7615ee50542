import KeepCore
import KeepLua
import KeepRuntime
import KeepStore

/// A snapshot as scripts hold it.
final class SnapshotHandle {
    let snapshot: Snapshot
    let context: ScriptContext
    init(_ snapshot: Snapshot, context: ScriptContext) {
        self.snapshot = snapshot
        self.context = context
    }
}

/// `keep.snapshots.*`, `keep.visits.*`, `keep.jobs.*` and Snapshot objects
/// (SPEC §3). Not `Sendable`: its functions run on the Lua state's thread only.
final class SnapshotObjects {
    let context: ScriptContext
    let sessions: SessionObjects
    let hostClass: LuaHostClass<SnapshotHandle>

    static let listOptions = ["sort_by", "direction", "page_size", "page_token", "title_contains",
                              "created_from", "created_to"]
    static let visitOptions = ["sort_by", "direction", "page_size", "page_token", "title_contains",
                               "created_from", "created_to", "last_visited_from", "last_visited_to", "owner", "deleted"]

    init(context: ScriptContext, sessions: SessionObjects) {
        self.context = context
        self.sessions = sessions
        hostClass = LuaHostClass<SnapshotHandle>(name: "Snapshot") { handle in
            "Snapshot<\(handle.snapshot.id) \"\(handle.snapshot.title)\">"
        }
        let fields: [(String, (Snapshot, LuaStack) -> Void)] = [
            ("id", { $1.push($0.id.rawValue) }),
            ("owner", { $1.push($0.owner) }),
            ("title", { $1.push($0.title) }),
            ("description", { snapshot, stack in
                if let description = snapshot.description { stack.push(description) } else { stack.pushNil() }
            }),
            ("content", { $1.push($0.content) }),
            ("hash", { $1.push($0.hash.hex) }),
            ("created_at", { $1.push($0.createdAt.iso8601) }),
        ]
        for (name, get) in fields {
            hostClass.property(name, get: { handle, stack in get(handle.snapshot, stack) })
        }
        hostClass.method("data") { handle, stack in
            try stack.pushDecodedJSON(handle.snapshot.content)
            return 1
        }
        hostClass.method("delete") { [weak self] handle, _ in
            guard let self else { throw KeepError.releasedAPI }
            try self.delete(handle.snapshot.id)
            return 0
        }
        // "Make session" from a snapshot: a new session of the acting user.
        hostClass.method("to_session") { [weak self] handle, stack in
            guard let self else { throw KeepError.releasedAPI }
            let options = try OptionTable(stack, 2, function: "Snapshot:to_session", allowed: ["title", "description"])
            let snapshot = handle.snapshot
            let title = try options.text("title") ?? snapshot.title
            let description = try options.description("description") ?? snapshot.description
            let (user, service) = (self.context.user, try self.context.sessions)
            let session = try blocking {
                try await service.create(as: user, title: title, description: description, content: snapshot.content)
            }
            self.sessions.push(session, on: stack)
            return 1
        }
    }

    func push(_ snapshot: Snapshot, on stack: LuaStack) {
        stack.push(SnapshotHandle(snapshot, context: context), as: hostClass)
    }

    func id(_ stack: LuaStack, _ index: Int32) throws -> ResourceID {
        if let handle = stack.object(at: index, as: hostClass) { return handle.snapshot.id }
        return try ResourceID(try stack.checkText(index))
    }

    // MARK: keep.snapshots

    func create(_ stack: LuaStack) throws -> Int32 {
        let options = try OptionTable(stack, 1, function: "keep.snapshots.create",
                                      allowed: ["title", "description", "content"])
        guard let title = try options.text("title") else {
            throw KeepError(.invalid, "keep.snapshots.create: title is required")
        }
        let description = try options.description("description") ?? nil
        let content = try options.requiredContent("content")
        return try create(title: title, description: description, content: content, on: stack)
    }

    /// Creates a snapshot as the acting user and pushes it (also `Session:snapshot`).
    func create(title: String, description: String?, content: String, on stack: LuaStack) throws -> Int32 {
        let (user, service) = (context.user, try context.snapshots)
        push(try blocking { try await service.create(as: user, title: title, description: description, content: content) },
             on: stack)
        return 1
    }

    func get(_ stack: LuaStack) throws -> Int32 {
        let id = try self.id(stack, 1)
        let (user, service) = (context.user, try context.snapshots)
        push(try blocking { try await service.get(as: user, id: id) }, on: stack)
        return 1
    }

    /// Deletes, then (`--jobs inline`) attempts the log-marking job at once;
    /// what fails stays queued. With `--jobs queue` workers run it.
    func delete(_ id: ResourceID) throws {
        let (user, service, runner) = (context.user, try context.snapshots, try context.jobs)
        let job = try blocking { try await service.delete(as: user, id: id) }
        guard try context.jobMode == .inline else { return }
        _ = try? blocking { try await runner.run(id: job.id) }
    }

    func list(_ stack: LuaStack) throws -> Int32 {
        let options = try OptionTable(stack, 1, function: "keep.snapshots.list", allowed: Self.listOptions)
        let query: SnapshotQuery = try Self.query(options)
        let (user, service) = (context.user, try context.snapshots)
        let page = try blocking { try await service.list(as: user, query) }
        ScriptPages.push(page, on: stack) { self.push($0, on: stack) }
        return 1
    }

    static func query<Field: SortField>(_ options: OptionTable) throws -> ListQuery<Field> {
        var query = ListQuery<Field>()
        query.sortBy = try Field(parsing: try options.text("sort_by"))
        query.direction = try SortDirection(parsing: try options.text("direction"),
                                            default: query.sortBy.rawValue == "title" ? .ascending : Field.defaultDirection)
        query.pageSize = try options.integer("page_size").map { Int(clamping: $0) }
        query.pageToken = try options.text("page_token")
        query.titleContains = try options.text("title_contains")
        query.createdFrom = try options.timestamp("created_from")
        query.createdTo = try options.timestamp("created_to")
        query.updatedFrom = try options.timestamp("updated_from")
        query.updatedTo = try options.timestamp("updated_to")
        query.lastVisitedFrom = try options.timestamp("last_visited_from")
        query.lastVisitedTo = try options.timestamp("last_visited_to")
        query.owner = try options.text("owner")
        query.deleted = try options.boolean("deleted")
        return query
    }

    // MARK: keep.visits

    func visits(_ stack: LuaStack) throws -> Int32 {
        let options = try OptionTable(stack, 1, function: "keep.visits.list", allowed: Self.visitOptions)
        let query: AccessLogQuery = try Self.query(options)
        let (user, service) = (context.user, try context.snapshots)
        let page = try blocking { try await service.visits(as: user, query) }
        ScriptPages.push(page, on: stack) { log in Self.push(log, on: stack) }
        return 1
    }

    static func push(_ log: AccessLog, on stack: LuaStack) {
        stack.newTable(fieldCapacity: 8)
        stack.push(log.snapshotID.rawValue); stack.setField("snapshot_id", of: -2)
        stack.push(log.snapshotOwner); stack.setField("snapshot_owner", of: -2)
        stack.push(log.visits); stack.setField("visits", of: -2)
        stack.push(log.firstVisitedAt.iso8601); stack.setField("first_visited_at", of: -2)
        stack.push(log.lastVisitedAt.iso8601); stack.setField("last_visited_at", of: -2)
        stack.push(log.snapshotDeleted); stack.setField("snapshot_deleted", of: -2)
        if let deletedAt = log.snapshotDeletedAt {
            stack.push(deletedAt.iso8601)
            stack.setField("snapshot_deleted_at", of: -2)
        }
        stack.newTable(fieldCapacity: 4)
        stack.push(log.snapshotTitle); stack.setField("title", of: -2)
        if let description = log.snapshotDescription {
            stack.push(description)
            stack.setField("description", of: -2)
        }
        stack.push(log.snapshotCreatedAt.iso8601); stack.setField("created_at", of: -2)
        stack.push(log.snapshotHash.hex); stack.setField("hash", of: -2)
        stack.setField("snapshot", of: -2)
    }

    func removeVisit(_ stack: LuaStack) throws -> Int32 {
        let id = try self.id(stack, 1)
        let (user, service) = (context.user, try context.snapshots)
        try blocking { try await service.removeVisit(as: user, snapshotID: id) }
        return 0
    }

    // MARK: keep.jobs

    func jobs(_ stack: LuaStack) throws -> Int32 {
        let options = try OptionTable(stack, 1, function: "keep.jobs.list", allowed: ["state"])
        let state = try options.text("state").map { text throws -> Job.State in
            guard let state = Job.State(rawValue: text) else {
                throw KeepError(.invalid, "keep.jobs.list: unknown state '\(text)'; use "
                    + Job.State.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return state
        }
        let runner = try context.jobs
        let jobs = try blocking { try await runner.storage.jobs(state: state) }
        stack.newTable(arrayCapacity: Int32(jobs.count))
        for (index, job) in jobs.enumerated() {
            Self.push(job, error: job.lastError, on: stack)
            stack.setIndex(Int64(index + 1), of: -2)
        }
        return 1
    }

    func runJobs(_ stack: LuaStack) throws -> Int32 {
        let runner = try context.jobs
        let outcomes = try blocking { try await runner.runDue() }
        stack.newTable(arrayCapacity: Int32(outcomes.count))
        for (index, outcome) in outcomes.enumerated() {
            Self.push(outcome.job, error: outcome.error, on: stack)
            stack.setIndex(Int64(index + 1), of: -2)
        }
        return 1
    }

    func retryJob(_ stack: LuaStack) throws -> Int32 {
        let id = try stack.checkInteger(1)
        let runner = try context.jobs
        let outcome = try blocking { try await runner.run(id: id) }
        Self.push(outcome.job, error: outcome.error, on: stack)
        return 1
    }

    static func push(_ job: Job, error: String?, on stack: LuaStack) {
        stack.newTable(fieldCapacity: 8)
        stack.push(job.id); stack.setField("id", of: -2)
        stack.push(job.kind.rawValue); stack.setField("kind", of: -2)
        stack.push(job.state.rawValue); stack.setField("state", of: -2)
        stack.push(Int64(job.attempts)); stack.setField("attempts", of: -2)
        stack.push(job.nextRunAt.iso8601); stack.setField("next_run_at", of: -2)
        stack.push(job.payload); stack.setField("payload", of: -2)
        if let error {
            stack.push(error)
            stack.setField("last_error", of: -2)
        }
    }
}

/// Pages as scripts see them: `{items = {…}, next_token = …}`.
enum ScriptPages {
    static func push<Item>(_ page: Page<Item>, on stack: LuaStack, item: (Item) -> Void) {
        stack.newTable(fieldCapacity: 2)
        stack.newTable(arrayCapacity: Int32(page.items.count))
        for (index, element) in page.items.enumerated() {
            item(element)
            stack.setIndex(Int64(index + 1), of: -2)
        }
        stack.setField("items", of: -2)
        if let next = page.nextToken {
            stack.push(next)
            stack.setField("next_token", of: -2)
        }
    }
}
