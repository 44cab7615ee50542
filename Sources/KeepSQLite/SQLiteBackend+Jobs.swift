import GRDB
import KeepCore
import KeepStore

extension SQLiteBackend: JobStorage {
    static let jobColumns = """
        id, kind, payload, state, attempts, next_run_at, last_error, lease_holder, lease_expires_at, created_at, updated_at
        """

    public func enqueueJob(_ draft: JobDraft) async throws -> Job {
        try await write("queue a job") { db in try Self.insertJob(db, draft) }
    }

    public func claimJob(id: Int64?, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Job? {
        try await write("take a job") { db in
            let ms = now.millisecondsSinceEpoch
            // SQLite has one writer at a time, so select-then-update is a safe
            // lease; PostgreSQL uses FOR UPDATE SKIP LOCKED for the same step.
            let candidate: Int64?
            if let id {
                candidate = try Int64.fetchOne(db, sql: """
                    SELECT id FROM jobs WHERE id = ? AND state != 'done'
                      AND NOT (state = 'running' AND lease_expires_at > ?)
                    """, arguments: [id, ms])
            } else {
                candidate = try Int64.fetchOne(db, sql: """
                    SELECT id FROM jobs
                    WHERE (state = 'pending' AND next_run_at <= ?) OR (state = 'running' AND lease_expires_at <= ?)
                    ORDER BY next_run_at, id LIMIT 1
                    """, arguments: [ms, ms])
            }
            guard let candidate else { return nil }
            try db.execute(sql: """
                UPDATE jobs SET state = 'running', lease_holder = ?, lease_expires_at = ?, updated_at = ? WHERE id = ?
                """, arguments: [holder, ms + leaseMilliseconds, ms, candidate])
            return try Self.fetchJob(db, id: candidate)
        }
    }

    public func claimJobs(limit: Int, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> [Job] {
        try await write("take jobs") { db in
            let ms = now.millisecondsSinceEpoch
            // One writer at a time: the selected jobs cannot be taken by another worker before the update.
            let ids = try Int64.fetchAll(db, sql: """
                SELECT id FROM jobs
                WHERE (state = 'pending' AND next_run_at <= ?) OR (state = 'running' AND lease_expires_at <= ?)
                ORDER BY next_run_at, id LIMIT ?
                """, arguments: [ms, ms, max(0, limit)])
            return try ids.compactMap { id in
                try db.execute(sql: """
                    UPDATE jobs SET state = 'running', lease_holder = ?, lease_expires_at = ?, updated_at = ? WHERE id = ?
                    """, arguments: [holder, ms + leaseMilliseconds, ms, id])
                return try Self.fetchJob(db, id: id)
            }
        }
    }

    public func renewJobLease(id: Int64, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Bool {
        try await write("renew a job's lease") { db in
            let ms = now.millisecondsSinceEpoch
            try db.execute(sql: """
                UPDATE jobs SET lease_expires_at = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_holder = ?
                """, arguments: [ms + leaseMilliseconds, ms, id, holder])
            return db.changesCount > 0
        }
    }

    public func nextJobDue() async throws -> Timestamp? {
        try await read("find the next due job") { db in
            try Int64.fetchOne(db, sql: """
                SELECT min(CASE state WHEN 'pending' THEN next_run_at ELSE lease_expires_at END) FROM jobs
                WHERE state IN ('pending', 'running')
                """).map(Timestamp.init(millisecondsSinceEpoch:))
        }
    }

    /// SQLite has no way to hear another process's commit: workers poll.
    public func jobsQueued() async throws -> AsyncStream<Void>? { nil }

    public func completeJob(id: Int64, holder: String, now: Timestamp) async throws -> Job? {
        try await write("finish a job") { db in
            try db.execute(sql: """
                UPDATE jobs SET state = 'done', attempts = attempts + 1, lease_holder = NULL, lease_expires_at = NULL,
                  updated_at = ?
                WHERE id = ? AND state = 'running' AND lease_holder = ?
                """, arguments: [now.millisecondsSinceEpoch, id, holder])
            return db.changesCount > 0 ? try Self.fetchJob(db, id: id) : nil
        }
    }

    public func failJob(id: Int64, holder: String, error: String, retryAt: Timestamp?, now: Timestamp) async throws -> Job? {
        try await write("record a job failure") { db in
            try db.execute(sql: """
                UPDATE jobs SET state = ?, attempts = attempts + 1, next_run_at = COALESCE(?, next_run_at),
                  last_error = ?, lease_holder = NULL, lease_expires_at = NULL, updated_at = ?
                WHERE id = ? AND state = 'running' AND lease_holder = ?
                """, arguments: [retryAt == nil ? "dead" : "pending", retryAt?.millisecondsSinceEpoch, error,
                                 now.millisecondsSinceEpoch, id, holder])
            return db.changesCount > 0 ? try Self.fetchJob(db, id: id) : nil
        }
    }

    public func jobs(state: Job.State?) async throws -> [Job] {
        try await read("list jobs") { db in
            if let state {
                return try Row.fetchAll(db, sql: "SELECT \(Self.jobColumns) FROM jobs WHERE state = ? ORDER BY id",
                                        arguments: [state.rawValue]).map(Self.job(from:))
            }
            return try Row.fetchAll(db, sql: "SELECT \(Self.jobColumns) FROM jobs ORDER BY id").map(Self.job(from:))
        }
    }

    public func jobCounts() async throws -> [Job.State: Int] {
        try await read("count jobs") { db in
            var counts = Dictionary(uniqueKeysWithValues: Job.State.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) FROM jobs GROUP BY state") {
                if let state = Job.State(rawValue: row[0]) { counts[state] = row[1] }
            }
            return counts
        }
    }

    public func job(id: Int64) async throws -> Job? {
        try await read("read a job") { db in try Self.fetchJob(db, id: id) }
    }

    static func insertJob(_ db: Database, _ draft: JobDraft) throws -> Job {
        let ms = draft.runAt.millisecondsSinceEpoch
        try db.execute(sql: """
            INSERT INTO jobs (kind, payload, state, attempts, next_run_at, created_at, updated_at)
            VALUES (?, ?, 'pending', 0, ?, ?, ?)
            """, arguments: [draft.kind.rawValue, draft.payload, ms, ms, ms])
        return try fetchJob(db, id: db.lastInsertedRowID)!
    }

    static func fetchJob(_ db: Database, id: Int64) throws -> Job? {
        try Row.fetchOne(db, sql: "SELECT \(jobColumns) FROM jobs WHERE id = ?", arguments: [id]).map(job(from:))
    }

    static func job(from row: Row) throws -> Job {
        let state: String = row["state"]
        return Job(id: row["id"], kind: JobKind(rawValue: row["kind"]), payload: row["payload"], state: Job.State(rawValue: state) ?? .dead,
                   attempts: row["attempts"], nextRunAt: Timestamp(millisecondsSinceEpoch: row["next_run_at"]),
                   lastError: row["last_error"], leaseHolder: row["lease_holder"],
                   leaseExpiresAt: (row["lease_expires_at"] as Int64?).map(Timestamp.init(millisecondsSinceEpoch:)),
                   createdAt: Timestamp(millisecondsSinceEpoch: row["created_at"]),
                   updatedAt: Timestamp(millisecondsSinceEpoch: row["updated_at"]))
    }
}
