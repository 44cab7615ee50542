import KeepCore
import KeepStore
import PostgresNIO

extension PostgresBackend: JobStorage {
    static let jobColumns = """
        id, kind, payload, state, attempts, next_run_at, last_error, lease_holder, lease_expires_at, created_at, updated_at
        """

    public func enqueueJob(_ draft: JobDraft) async throws -> Job {
        let rows = try await rows("queue a job", Self.insertJobQuery(draft))
        return try Self.job(from: rows[0])
    }

    /// Each claim is one UPDATE: several runners on several hosts can claim at
    /// once. A due job is chosen with `FOR UPDATE SKIP LOCKED`, so runners never
    /// wait for each other's candidates; a job named by id is re-checked
    /// under its row lock, so only one of two runners racing for it gets it.
    public func claimJob(id: Int64?, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Job? {
        guard let id else {
            return try await claimJobs(limit: 1, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds).first
        }
        let ms = now.millisecondsSinceEpoch
        return try await rows("take a job", """
            UPDATE jobs SET state = 'running', lease_holder = \(holder), lease_expires_at = \(ms + leaseMilliseconds),
              updated_at = \(ms)
            WHERE id = \(id) AND state <> 'done' AND NOT (state = 'running' AND lease_expires_at > \(ms))
            RETURNING \(unescaped: Self.jobColumns)
            """).first.map(Self.job(from:))
    }

    /// One UPDATE over the due jobs chosen with `FOR UPDATE SKIP LOCKED`: the
    /// rows another worker is claiming are skipped, so workers on any number
    /// of hosts take different jobs without waiting for each other.
    ///
    /// Jobs whose lease expired come first (their worker died), then pending
    /// ones in `next_run_at` order. Two selections, not one with `OR`: each
    /// reads the `jobs_due` index in order and stops at the limit, where an
    /// `OR` would sort every due job on each claim (milliseconds with a
    /// queue of thousands).
    public func claimJobs(limit: Int, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> [Job] {
        let ms = now.millisecondsSinceEpoch
        let limit = Int64(max(0, limit))
        return try await rows("take jobs", """
            WITH expired AS (
              SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at <= \(ms)
              ORDER BY next_run_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED),
            pending AS (
              SELECT id FROM jobs WHERE state = 'pending' AND next_run_at <= \(ms)
              ORDER BY next_run_at, id LIMIT \(limit) - (SELECT count(*) FROM expired) FOR UPDATE SKIP LOCKED)
            UPDATE jobs SET state = 'running', lease_holder = \(holder), lease_expires_at = \(ms + leaseMilliseconds),
              updated_at = \(ms)
            WHERE id IN (SELECT id FROM expired UNION ALL SELECT id FROM pending)
            RETURNING \(unescaped: Self.jobColumns)
            """).map(Self.job(from:)).sorted { ($0.nextRunAt.millisecondsSinceEpoch, $0.id) < ($1.nextRunAt.millisecondsSinceEpoch, $1.id) }
    }

    public func renewJobLease(id: Int64, holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Bool {
        let ms = now.millisecondsSinceEpoch
        return try await !rows("renew a job's lease", """
            UPDATE jobs SET lease_expires_at = \(ms + leaseMilliseconds), updated_at = \(ms)
            WHERE id = \(id) AND state = 'running' AND lease_holder = \(holder)
            RETURNING id
            """).isEmpty
    }

    public func nextJobDue() async throws -> Timestamp? {
        let rows = try await rows("find the next due job", """
            SELECT min(CASE state WHEN 'pending' THEN next_run_at ELSE lease_expires_at END) AS due FROM jobs
            WHERE state IN ('pending', 'running')
            """)
        return try rows.first.flatMap { try RowReader($0).optionalTimestamp("due") }
    }

    /// The channel every enqueue notifies (with the schema as payload: tests
    /// and deployments may share a database across schemas).
    static let jobsChannel = "keep_jobs"

    /// LISTENs on a connection of its own (a pooled one would lose the
    /// registration when returned), closed when the consumer stops iterating.
    /// A broken connection ends the stream: workers then poll.
    public func jobsQueued() async throws -> AsyncStream<Void>? {
        let connection: PostgresConnection
        let notifications: PostgresNotificationSequence
        do {
            connection = try await Self.connect(location, doing: "listen for queued jobs")
            notifications = try await connection.listen(Self.jobsChannel)
        } catch {
            throw Self.keepError(error, doing: "listen for queued jobs", location: location)
        }
        let schema = location.schema ?? "public"
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let forwarding = Task {
            do {
                for try await notification in notifications where notification.payload == schema {
                    continuation.yield()
                }
            } catch {}
            continuation.finish()
            try? await connection.close()
        }
        continuation.onTermination = { _ in forwarding.cancel() }
        return stream
    }

    public func completeJob(id: Int64, holder: String, now: Timestamp) async throws -> Job? {
        try await rows("finish a job", """
            UPDATE jobs SET state = 'done', attempts = attempts + 1, lease_holder = NULL, lease_expires_at = NULL,
              updated_at = \(now.millisecondsSinceEpoch)
            WHERE id = \(id) AND state = 'running' AND lease_holder = \(holder)
            RETURNING \(unescaped: Self.jobColumns)
            """).first.map(Self.job(from:))
    }

    public func failJob(id: Int64, holder: String, error: String, retryAt: Timestamp?, now: Timestamp) async throws -> Job? {
        try await rows("record a job failure", """
            UPDATE jobs SET state = \(retryAt == nil ? "dead" : "pending"), attempts = attempts + 1,
              next_run_at = COALESCE(\(retryAt?.millisecondsSinceEpoch), next_run_at), last_error = \(error.storableText),
              lease_holder = NULL, lease_expires_at = NULL, updated_at = \(now.millisecondsSinceEpoch)
            WHERE id = \(id) AND state = 'running' AND lease_holder = \(holder)
            RETURNING \(unescaped: Self.jobColumns)
            """).first.map(Self.job(from:))
    }

    public func jobs(state: Job.State?) async throws -> [Job] {
        let query: PostgresQuery = if let state {
            "SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE state = \(state.rawValue) ORDER BY id"
        } else {
            "SELECT \(unescaped: Self.jobColumns) FROM jobs ORDER BY id"
        }
        return try await rows("list jobs", query).map(Self.job(from:))
    }

    public func jobCounts() async throws -> [Job.State: Int] {
        var counts = Dictionary(uniqueKeysWithValues: Job.State.allCases.map { ($0, 0) })
        for row in try await rows("count jobs", "SELECT state, count(*) FROM jobs GROUP BY state") {
            let (state, count) = try row.decode((String, Int64).self)
            if let state = Job.State(rawValue: state) { counts[state] = Int(count) }
        }
        return counts
    }

    public func job(id: Int64) async throws -> Job? {
        try await rows("read a job", "SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE id = \(id)")
            .first.map(Self.job(from:))
    }

    static func insertJob(_ connection: PostgresConnection, _ draft: JobDraft) async throws -> Job {
        let rows = try await connection.query(insertJobQuery(draft), logger: logger).collect()
        return try job(from: rows[0])
    }

    static func insertJobQuery(_ draft: JobDraft) -> PostgresQuery {
        let ms = draft.runAt.millisecondsSinceEpoch
        // The NOTIFY is sent when the enqueuing transaction commits (never for a rollback).
        return """
            WITH queued AS (
              INSERT INTO jobs (kind, payload, state, attempts, next_run_at, created_at, updated_at)
              VALUES (\(draft.kind.rawValue.storableText), \(draft.payload.storableText), 'pending', 0, \(ms), \(ms), \(ms))
              RETURNING \(unescaped: jobColumns))
            SELECT \(unescaped: jobColumns), pg_notify(\(jobsChannel), current_schema()) AS notified FROM queued
            """
    }

    static func job(from row: PostgresRow) throws -> Job {
        let row = RowReader(row)
        let state: String = try row["state"]
        return Job(id: try row["id"], kind: JobKind(rawValue: try row["kind"]), payload: try row["payload"],
                   state: Job.State(rawValue: state) ?? .dead, attempts: Int(try row["attempts", as: Int32.self]),
                   nextRunAt: try row.timestamp("next_run_at"), lastError: try row["last_error"],
                   leaseHolder: try row["lease_holder"], leaseExpiresAt: try row.optionalTimestamp("lease_expires_at"),
                   createdAt: try row.timestamp("created_at"), updatedAt: try row.timestamp("updated_at"))
    }
}
