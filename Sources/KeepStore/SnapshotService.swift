import KeepCore

/// Snapshots and access logs with the rules of SPEC §1: anyone who knows the
/// id reads a snapshot (and is logged as a visitor, at most once per visit
/// interval); only the owner deletes it, and deleting queues the durable job
/// that marks the other visitors' logs.
public struct SnapshotService: Sendable {
    public let storage: any KeepStorage
    public let validator: any DocumentValidator
    public let visits: any VisitPolicy
    public let clock: KeepClock
    /// Where problems that must not fail the caller are reported (a failed visit log).
    public let diagnostics: @Sendable (String) -> Void

    public init(storage: any KeepStorage, validator: any DocumentValidator = DefaultValidation(),
                visits: any VisitPolicy = IntervalVisitPolicy(), clock: KeepClock = .system,
                diagnostics: @escaping @Sendable (String) -> Void = { _ in }) {
        self.storage = storage
        self.validator = validator
        self.visits = visits
        self.clock = clock
        self.diagnostics = diagnostics
    }

    public func create(as user: UserID, title: String, description: String? = nil,
                       content: String) async throws -> Snapshot {
        try validator.admit(DocumentCandidate(kind: .snapshot, operation: .create, owner: user,
                                              title: title, description: description, content: content))
        let now = clock.now()
        let snapshot = Snapshot(id: ResourceID.generate(), owner: user, title: title.trimmingWhitespace(),
                                description: description, content: content, hash: ContentHash(of: content),
                                createdAt: now)
        // Creating a snapshot counts as the creator's first visit.
        try await storage.insertSnapshot(snapshot, creatorLog: AccessLog(visitor: user, snapshot: snapshot, at: now))
        return snapshot
    }

    /// Reads a snapshot and logs the visit. A failure to log does not fail the
    /// read: it is reported and queued as a `record_visit` job — unless the
    /// database refused the write itself (read-only, or another connection
    /// holds the write lock: a read does not wait for it), which queuing
    /// would meet again: then the visit is reported and not counted.
    public func get(as user: UserID, id: ResourceID) async throws -> Snapshot {
        guard let snapshot = try await storage.snapshot(id: id) else { throw Self.notFound(id) }
        let now = clock.now()
        do {
            try await logVisit(by: user, to: snapshot, at: now)
        } catch let error as KeepError where error.code == .forbidden || error.details["busy"] != nil {
            diagnostics("the visit of \(user) to snapshot \(id) was not logged: \(error)")
        } catch {
            diagnostics("could not log a visit of \(user) to snapshot \(id): \(error); queued for retry")
            let payload = RecordVisitPayload(snapshotID: id, visitor: user, at: now)
            do {
                _ = try await storage.enqueueJob(JobDraft(payload, runAt: now))
            } catch {
                diagnostics("could not queue the visit of \(user) to snapshot \(id): \(error)")
            }
        }
        return snapshot
    }

    func logVisit(by user: UserID, to snapshot: Snapshot, at time: Timestamp) async throws {
        let visits = self.visits
        _ = try await storage.recordVisit(AccessLog(visitor: user, snapshot: snapshot, at: time), now: time) {
            visits.shouldCount($0, now: time)
        }
    }

    /// Deletes the owner's snapshot and queues the job that marks the other
    /// visitors' logs; returns that job (run it at once with `JobRunner`).
    @discardableResult
    public func delete(as user: UserID, id: ResourceID) async throws -> Job {
        guard let snapshot = try await storage.snapshot(id: id) else { throw Self.notFound(id) }
        guard snapshot.owner == user else {
            throw KeepError(.forbidden, "snapshot \(id) belongs to another user; only its owner can delete it",
                            details: ["id": .text(id.rawValue)])
        }
        let now = clock.now()
        let payload = MarkLogsDeletedPayload(snapshotID: id, deletedAt: now)
        guard let job = try await storage.deleteSnapshot(id: id, owner: user, queueing: JobDraft(payload, runAt: now))
        else { throw Self.notFound(id) }
        return job
    }

    public func list(as user: UserID, _ query: SnapshotQuery) async throws -> Page<Snapshot> {
        try await Paging.page(query, for: user, secret: try await storage.tokenSecret()) { cursor, limit in
            try await storage.snapshots(owner: user, matching: query, after: cursor, limit: limit)
        }
    }

    // MARK: Access logs

    public func visits(as user: UserID, _ query: AccessLogQuery) async throws -> Page<AccessLog> {
        try await Paging.page(query, for: user, secret: try await storage.tokenSecret()) { cursor, limit in
            try await storage.accessLogs(visitor: user, matching: query, after: cursor, limit: limit)
        }
    }

    /// Removes a snapshot from the visitor's list of visited snapshots.
    public func removeVisit(as user: UserID, snapshotID: ResourceID) async throws {
        guard try await storage.removeAccessLog(visitor: user, snapshotID: snapshotID) else {
            throw KeepError(.notFound, "no visit of snapshot \(snapshotID) in your list", details: ["id": .text(snapshotID.rawValue)])
        }
    }

    static func notFound(_ id: ResourceID) -> KeepError {
        KeepError(.notFound, "snapshot \(id) not found", details: ["id": .text(id.rawValue)])
    }
}
