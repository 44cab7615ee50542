import GRDB
import KeepCore
import KeepStore

extension SQLiteBackend: SnapshotStorage {
    public func insertSnapshot(_ snapshot: Snapshot, creatorLog: AccessLog) async throws {
        try await write("create a snapshot") { db in
            try db.execute(sql: """
                INSERT INTO snapshots (id, owner, title, title_key, description, content, hash, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [snapshot.id.rawValue, snapshot.owner, snapshot.title, snapshot.title.titleKey,
                                 snapshot.description, snapshot.content, snapshot.hash.hex,
                                 snapshot.createdAt.millisecondsSinceEpoch])
            try Self.insertLog(db, creatorLog)
        }
    }

    public func snapshot(id: ResourceID) async throws -> Snapshot? {
        try await read("read a snapshot") { db in
            try Row.fetchOne(db, sql: "SELECT \(StoredColumns.snapshot) FROM snapshots WHERE id = ?",
                             arguments: [id.rawValue]).map(Self.snapshot(from:))
        }
    }

    public func deleteSnapshot(id: ResourceID, owner: UserID, queueing job: JobDraft) async throws -> Job? {
        try await write("delete a snapshot") { db in
            try db.execute(sql: "DELETE FROM snapshots WHERE id = ? AND owner = ?", arguments: [id.rawValue, owner])
            guard db.changesCount > 0 else { return nil }
            try db.execute(sql: "DELETE FROM access_logs WHERE snapshot_id = ? AND visitor = ?",
                           arguments: [id.rawValue, owner])
            return try Self.insertJob(db, job)
        }
    }

    public func snapshots(owner: UserID, matching query: SnapshotQuery, after cursor: PageCursor?,
                          limit: Int) async throws -> [Snapshot] {
        let (sql, arguments) = ListingPlan(owner: owner, query: query, after: cursor, limit: limit).sqlite
        return try await read("list snapshots") { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.snapshot(from:))
        }
    }

    static func snapshot(from row: Row) throws -> Snapshot {
        Snapshot(id: try ResourceID(row["id"]), owner: row["owner"], title: row["title"],
                 description: row["description"], content: row["content"],
                 hash: ContentHash(storedHex: row["hash"]), createdAt: Timestamp(millisecondsSinceEpoch: row["created_at"]))
    }
}

extension SQLiteBackend: AccessLogStorage {
    /// The policy decides on the log as read, outside the write lock (it is
    /// Lua, and may take up to its budget); the write then counts only if the
    /// log still has the count the policy saw (`visits` only grows, so it is
    /// the log's version), and otherwise the visit is decided again.
    public func recordVisit(_ newLog: AccessLog, now: Timestamp,
                            shouldCount: @escaping @Sendable (AccessLog) -> Bool) async throws -> AccessLog {
        for _ in 0 ..< AccessLogRecording.attempts {
            let seen = try await read("log a visit") { db in
                try Self.fetchLog(db, visitor: newLog.visitor, snapshotID: newLog.snapshotID)
            }
            if let seen {
                // A later visit may have been counted meanwhile: decided as simultaneous with it.
                var decided = seen
                decided.lastVisitedAt = min(seen.lastVisitedAt, now)
                if !shouldCount(decided) { return seen }
            }
            // A read logs the visit: it does not wait for another connection's write lock.
            let written = try await write("log a visit", waiting: false) { db -> AccessLog? in
                let stored = try Self.fetchLog(db, visitor: newLog.visitor, snapshotID: newLog.snapshotID)
                guard stored?.visits == seen?.visits else { return nil }  // moved since: decide again
                guard var counted = stored else {
                    try Self.insertLog(db, newLog)
                    return newLog
                }
                try db.execute(sql: """
                    UPDATE access_logs SET visits = visits + 1, last_visited_at = max(last_visited_at, ?)
                    WHERE visitor = ? AND snapshot_id = ?
                    """, arguments: [now.millisecondsSinceEpoch, newLog.visitor, newLog.snapshotID.rawValue])
                counted.visits += 1
                counted.lastVisitedAt = max(counted.lastVisitedAt, now)
                return counted
            }
            if let written { return written }
        }
        throw AccessLogRecording.tooBusy(newLog)
    }

    public func accessLogs(visitor: UserID, matching query: AccessLogQuery, after cursor: PageCursor?,
                           limit: Int) async throws -> [AccessLog] {
        let (sql, arguments) = ListingPlan(owner: visitor, query: query, after: cursor, limit: limit).sqlite
        return try await read("list visits") { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.log(from:))
        }
    }

    public func removeAccessLog(visitor: UserID, snapshotID: ResourceID) async throws -> Bool {
        try await write("remove a visit") { db in
            try db.execute(sql: "DELETE FROM access_logs WHERE visitor = ? AND snapshot_id = ?",
                           arguments: [visitor, snapshotID.rawValue])
            return db.changesCount > 0
        }
    }

    public func unmarkedVisitors(snapshotID: ResourceID) async throws -> [UserID] {
        try await read("find a snapshot's visitors") { db in
            try String.fetchAll(db, sql: """
                SELECT visitor FROM access_logs WHERE snapshot_id = ? AND snapshot_deleted = 0 ORDER BY visitor
                """, arguments: [snapshotID.rawValue])
        }
    }

    public func markAccessLogDeleted(visitor: UserID, snapshotID: ResourceID, at time: Timestamp) async throws -> Bool {
        try await write("mark a visit's snapshot deleted") { db in
            try db.execute(sql: """
                UPDATE access_logs SET snapshot_deleted = 1, snapshot_deleted_at = ?
                WHERE visitor = ? AND snapshot_id = ? AND snapshot_deleted = 0
                """, arguments: [time.millisecondsSinceEpoch, visitor, snapshotID.rawValue])
            return db.changesCount > 0
        }
    }

    static func insertLog(_ db: Database, _ log: AccessLog) throws {
        try db.execute(sql: """
            INSERT INTO access_logs (visitor, snapshot_id, snapshot_owner, visits, first_visited_at, last_visited_at,
              snapshot_title, snapshot_title_key, snapshot_description, snapshot_created_at, snapshot_hash,
              snapshot_deleted, snapshot_deleted_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [log.visitor, log.snapshotID.rawValue, log.snapshotOwner, log.visits,
                             log.firstVisitedAt.millisecondsSinceEpoch, log.lastVisitedAt.millisecondsSinceEpoch,
                             log.snapshotTitle, log.snapshotTitle.titleKey, log.snapshotDescription,
                             log.snapshotCreatedAt.millisecondsSinceEpoch, log.snapshotHash.hex, log.snapshotDeleted,
                             log.snapshotDeletedAt?.millisecondsSinceEpoch])
    }

    static func fetchLog(_ db: Database, visitor: UserID, snapshotID: ResourceID) throws -> AccessLog? {
        try Row.fetchOne(db, sql: "SELECT \(StoredColumns.accessLog) FROM access_logs WHERE visitor = ? AND snapshot_id = ?",
                         arguments: [visitor, snapshotID.rawValue]).map(log(from:))
    }

    static func log(from row: Row) throws -> AccessLog {
        AccessLog(visitor: row["visitor"], snapshotID: try ResourceID(row["snapshot_id"]),
                  snapshotOwner: row["snapshot_owner"], visits: row["visits"],
                  firstVisitedAt: Timestamp(millisecondsSinceEpoch: row["first_visited_at"]),
                  lastVisitedAt: Timestamp(millisecondsSinceEpoch: row["last_visited_at"]),
                  snapshotTitle: row["snapshot_title"], snapshotDescription: row["snapshot_description"],
                  snapshotCreatedAt: Timestamp(millisecondsSinceEpoch: row["snapshot_created_at"]),
                  snapshotHash: ContentHash(storedHex: row["snapshot_hash"]), snapshotDeleted: row["snapshot_deleted"],
                  snapshotDeletedAt: (row["snapshot_deleted_at"] as Int64?).map(Timestamp.init(millisecondsSinceEpoch:)))
    }
}
