import KeepCore
import KeepStore
import PostgresNIO

extension PostgresBackend: SnapshotStorage {
    public func insertSnapshot(_ snapshot: Snapshot, creatorLog: AccessLog) async throws {
        try await transaction("create a snapshot") { connection in
            try await connection.query("""
                INSERT INTO snapshots (id, owner, title, title_key, description, content, hash, created_at)
                VALUES (\(snapshot.id.rawValue), \(snapshot.owner), \(snapshot.title.bytes),
                  \(snapshot.title.titleKey.bytes), \(snapshot.description?.bytes), \(snapshot.content.bytes),
                  \(snapshot.hash.hex), \(snapshot.createdAt.millisecondsSinceEpoch))
                """, logger: Self.logger)
            try await connection.query(Self.upsertLog(creatorLog, countingOver: nil), logger: Self.logger)
        }
    }

    public func snapshot(id: ResourceID) async throws -> Snapshot? {
        try await rows("read a snapshot", SelectSnapshot(id: id)).first.map(Self.snapshot(from:))
    }

    public func deleteSnapshot(id: ResourceID, owner: UserID, queueing job: JobDraft) async throws -> Job? {
        try await transaction("delete a snapshot") { connection in
            let deleted = try await connection.query("""
                DELETE FROM snapshots WHERE id = \(id.rawValue) AND owner = \(owner) RETURNING id
                """, logger: Self.logger).collect()
            guard !deleted.isEmpty else { return nil }
            try await connection.query("""
                DELETE FROM access_logs WHERE snapshot_id = \(id.rawValue) AND visitor = \(owner)
                """, logger: Self.logger)
            return try await Self.insertJob(connection, job)
        }
    }

    public func snapshots(owner: UserID, matching query: SnapshotQuery, after cursor: PageCursor?,
                          limit: Int) async throws -> [Snapshot] {
        try await rows("list snapshots", ListingPlan(owner: owner, query: query, after: cursor, limit: limit).postgres)
            .map(Self.snapshot(from:))
    }

    static func snapshot(from row: PostgresRow) throws -> Snapshot {
        let row = RowReader(row)
        return Snapshot(id: try row.id("id"), owner: try row["owner"], title: try row["title"],
                        description: try row["description"], content: try row["content"],
                        hash: ContentHash(storedHex: try row["hash"]), createdAt: try row.timestamp("created_at"))
    }
}

extension PostgresBackend: AccessLogStorage {
    /// One statement per attempt, no transaction, no lock held while the
    /// policy decides: read the log, ask `shouldCount` about it, then one
    /// `INSERT … ON CONFLICT DO UPDATE … WHERE visits = <the count read>`.
    /// The upsert inserts when there still is no log, counts when the log
    /// is still as read, and does nothing when a concurrent visit moved it
    /// (or created it) meanwhile — then the visit is decided again on the
    /// log as it is now. `visits` only grows, so it is the log's version:
    /// no count is lost and no first visit fails.
    ///
    /// Concurrent visits reach the database in any order, so a visit may find
    /// a later one already counted. It is decided as if it came at the same
    /// instant as that one (the policy never sees a last visit after `now`),
    /// and `last_visited_at` never moves back.
    public func recordVisit(_ newLog: AccessLog, now: Timestamp,
                            shouldCount: @escaping @Sendable (AccessLog) -> Bool) async throws -> AccessLog {
        for _ in 0 ..< AccessLogRecording.attempts {
            let stored = try await rows("log a visit", """
                SELECT \(unescaped: StoredColumns.accessLog) FROM access_logs
                WHERE snapshot_id = \(newLog.snapshotID.rawValue) AND visitor = \(newLog.visitor)
                """).first.map(Self.log(from:))
            if let stored {
                var seen = stored
                seen.lastVisitedAt = min(stored.lastVisitedAt, now)
                if !shouldCount(seen) { return stored }
            }
            let written = try await rows("log a visit", Self.upsertLog(newLog, countingOver: stored, at: now))
            if let row = written.first { return try Self.log(from: row) }
        }
        throw AccessLogRecording.tooBusy(newLog)
    }

    /// Inserts `log`, or — when a log exists and `stored` is it as read —
    /// counts one visit at `now`; returns the row written, none when a
    /// concurrent write got there first.
    static func upsertLog(_ log: AccessLog, countingOver stored: AccessLog?, at now: Timestamp? = nil) -> PostgresQuery {
        """
        INSERT INTO access_logs AS log (visitor, snapshot_id, snapshot_owner, visits, first_visited_at, last_visited_at,
          snapshot_title, snapshot_title_key, snapshot_description, snapshot_created_at, snapshot_hash,
          snapshot_deleted, snapshot_deleted_at)
        VALUES (\(log.visitor), \(log.snapshotID.rawValue), \(log.snapshotOwner), \(log.visits),
          \(log.firstVisitedAt.millisecondsSinceEpoch), \(log.lastVisitedAt.millisecondsSinceEpoch),
          \(log.snapshotTitle.bytes), \(log.snapshotTitle.titleKey.bytes), \(log.snapshotDescription?.bytes),
          \(log.snapshotCreatedAt.millisecondsSinceEpoch), \(log.snapshotHash.hex), \(log.snapshotDeleted),
          \(log.snapshotDeletedAt?.millisecondsSinceEpoch))
        ON CONFLICT (snapshot_id, visitor) DO UPDATE
          SET visits = log.visits + 1,
            last_visited_at = greatest(log.last_visited_at, \((now ?? log.lastVisitedAt).millisecondsSinceEpoch))
          WHERE log.visits = \(stored?.visits)
        RETURNING \(unescaped: StoredColumns.accessLog)
        """
    }

    public func accessLogs(visitor: UserID, matching query: AccessLogQuery, after cursor: PageCursor?,
                           limit: Int) async throws -> [AccessLog] {
        try await rows("list visits", ListingPlan(owner: visitor, query: query, after: cursor, limit: limit).postgres)
            .map(Self.log(from:))
    }

    public func removeAccessLog(visitor: UserID, snapshotID: ResourceID) async throws -> Bool {
        try await !rows("remove a visit", """
            DELETE FROM access_logs WHERE snapshot_id = \(snapshotID.rawValue) AND visitor = \(visitor) RETURNING visitor
            """).isEmpty
    }

    public func unmarkedVisitors(snapshotID: ResourceID) async throws -> [UserID] {
        try await rows("find a snapshot's visitors", """
            SELECT visitor FROM access_logs WHERE snapshot_id = \(snapshotID.rawValue) AND NOT snapshot_deleted
            ORDER BY visitor
            """).map { try $0.decode(String.self) }
    }

    public func markAccessLogDeleted(visitor: UserID, snapshotID: ResourceID, at time: Timestamp) async throws -> Bool {
        try await !rows("mark a visit's snapshot deleted", """
            UPDATE access_logs SET snapshot_deleted = true, snapshot_deleted_at = \(time.millisecondsSinceEpoch)
            WHERE snapshot_id = \(snapshotID.rawValue) AND visitor = \(visitor) AND NOT snapshot_deleted
            RETURNING visitor
            """).isEmpty
    }

    static func log(from row: PostgresRow) throws -> AccessLog {
        let row = RowReader(row)
        return AccessLog(visitor: try row["visitor"], snapshotID: try row.id("snapshot_id"),
                         snapshotOwner: try row["snapshot_owner"], visits: try row["visits"],
                         firstVisitedAt: try row.timestamp("first_visited_at"),
                         lastVisitedAt: try row.timestamp("last_visited_at"),
                         snapshotTitle: try row["snapshot_title"], snapshotDescription: try row["snapshot_description"],
                         snapshotCreatedAt: try row.timestamp("snapshot_created_at"),
                         snapshotHash: ContentHash(storedHex: try row["snapshot_hash"]),
                         snapshotDeleted: try row["snapshot_deleted"],
                         snapshotDeletedAt: try row.optionalTimestamp("snapshot_deleted_at"))
    }
}
