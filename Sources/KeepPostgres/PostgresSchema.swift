import KeepCore
import PostgresNIO

/// The versioned schema of the PostgreSQL backend, recorded in `keep_schema`
/// (one row: the version). Versions are append-only: a released one is
/// never edited, a change is a new one.
///
/// The same logical tables as SQLite (`SQLiteSchema`), with these choices
/// (docs/postgres.md explains them):
/// - document text (titles, descriptions, content) is `bytea`: stored and
///   returned byte for byte (PostgreSQL `text` cannot hold U+0000, which a
///   Keep document may contain), and compared by bytes, as SQLite compares
///   text, so listings order alike;
/// - ids and user ids are `text COLLATE "C"`: byte order, whatever the
///   database's locale;
/// - times are `bigint` milliseconds since the Unix epoch, as in SQLite;
/// - primary keys start with the column a distributed deployment (Citus)
///   shards on: sessions by owner, snapshots and their access logs by
///   snapshot id.
enum PostgresSchema {
    /// Each version's statements (one per entry: the extended protocol runs one at a time).
    static func versions(secret: [UInt8]) -> [[PostgresQuery]] {
        [
            [
                """
                CREATE TABLE keep_meta (
                  key text COLLATE "C" PRIMARY KEY,
                  value bytea NOT NULL
                )
                """,
                "INSERT INTO keep_meta (key, value) VALUES ('page_token_secret', \(ByteBuffer(bytes: secret)))",
                """
                CREATE TABLE sessions (
                  owner text COLLATE "C" NOT NULL,
                  id text COLLATE "C" NOT NULL,
                  title bytea NOT NULL,
                  title_key bytea NOT NULL,        -- lower-cased title: sorting and filtering ignore case
                  description bytea,
                  content bytea NOT NULL,
                  hash text NOT NULL,              -- SHA-256 of content, lowercase hex
                  version bigint NOT NULL,
                  created_at bigint NOT NULL,      -- milliseconds since the Unix epoch, UTC
                  updated_at bigint NOT NULL,
                  PRIMARY KEY (owner, id)
                )
                """,
                "CREATE INDEX sessions_by_owner_updated ON sessions (owner, updated_at, id)",
                "CREATE INDEX sessions_by_owner_created ON sessions (owner, created_at, id)",
                "CREATE INDEX sessions_by_owner_title ON sessions (owner, title_key, id)",
                // Content migrations walk every session in id order.
                "CREATE INDEX sessions_by_id ON sessions (id)",
                """
                CREATE TABLE snapshots (
                  id text COLLATE "C" PRIMARY KEY,
                  owner text COLLATE "C" NOT NULL,
                  title bytea NOT NULL,
                  title_key bytea NOT NULL,
                  description bytea,
                  content bytea NOT NULL,
                  hash text NOT NULL,
                  created_at bigint NOT NULL
                )
                """,
                "CREATE INDEX snapshots_by_owner_created ON snapshots (owner, created_at, id)",
                "CREATE INDEX snapshots_by_owner_title ON snapshots (owner, title_key, id)",
                // One row per (visitor, snapshot), with the snapshot's metadata as it was
                // when the row was created; kept beside its snapshot (same shard key).
                """
                CREATE TABLE access_logs (
                  snapshot_id text COLLATE "C" NOT NULL,
                  visitor text COLLATE "C" NOT NULL,
                  snapshot_owner text COLLATE "C" NOT NULL,
                  visits bigint NOT NULL,
                  first_visited_at bigint NOT NULL,
                  last_visited_at bigint NOT NULL,
                  snapshot_title bytea NOT NULL,
                  snapshot_title_key bytea NOT NULL,
                  snapshot_description bytea,
                  snapshot_created_at bigint NOT NULL,
                  snapshot_hash text NOT NULL,
                  snapshot_deleted boolean NOT NULL DEFAULT false,
                  snapshot_deleted_at bigint,
                  PRIMARY KEY (snapshot_id, visitor)
                )
                """,
                "CREATE INDEX access_logs_by_visitor_last ON access_logs (visitor, last_visited_at, snapshot_id)",
                """
                CREATE TABLE jobs (
                  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                  kind text NOT NULL,
                  payload text NOT NULL,
                  state text NOT NULL,             -- pending, running, done, dead
                  attempts integer NOT NULL DEFAULT 0,
                  next_run_at bigint NOT NULL,
                  last_error text,
                  lease_holder text,
                  lease_expires_at bigint,
                  created_at bigint NOT NULL,
                  updated_at bigint NOT NULL
                )
                """,
                "CREATE INDEX jobs_due ON jobs (state, next_run_at, id)",
                """
                CREATE TABLE migrations (
                  id text COLLATE "C" PRIMARY KEY, -- the file's number, "0001"
                  name text NOT NULL,
                  description text NOT NULL,
                  target text NOT NULL,            -- sessions, snapshots, all
                  checksum text NOT NULL,
                  state text NOT NULL,             -- running, failed, applied, rolling_back, rolled_back
                  scanned bigint NOT NULL,
                  changed bigint NOT NULL,
                  failed bigint NOT NULL,
                  checkpoint_kind text,
                  checkpoint_id text COLLATE "C",
                  keeps_backup boolean NOT NULL,
                  started_at bigint NOT NULL,
                  finished_at bigint,
                  elapsed_ms bigint NOT NULL,
                  last_error text
                )
                """,
                """
                CREATE TABLE migration_backups (
                  migration text COLLATE "C" NOT NULL,
                  kind text COLLATE "C" NOT NULL,
                  id text COLLATE "C" NOT NULL,
                  title bytea NOT NULL,
                  description bytea,
                  hash text NOT NULL,
                  patch_prefix bigint NOT NULL,
                  patch_suffix bigint NOT NULL,
                  patch_middle bytea NOT NULL,
                  after_title bytea NOT NULL,
                  after_description bytea,
                  after_hash text NOT NULL,
                  conflict boolean NOT NULL DEFAULT false,
                  PRIMARY KEY (migration, kind, id)
                )
                """,
                """
                CREATE TABLE migration_failures (
                  migration text COLLATE "C" NOT NULL,
                  kind text COLLATE "C" NOT NULL,
                  id text COLLATE "C" NOT NULL,
                  message text NOT NULL,
                  PRIMARY KEY (migration, kind, id)
                )
                """,
                """
                CREATE TABLE migration_lock (
                  name text PRIMARY KEY,
                  holder text NOT NULL,
                  acquired_at bigint NOT NULL,
                  expires_at bigint NOT NULL
                )
                """,
            ],
        ]
    }

    /// The version this Keep sets up.
    static var currentVersion: Int { versions(secret: []).count }

    /// Brings the schema to `currentVersion` and returns the page-token
    /// secret. A current schema is only read. Otherwise the upgrade runs in
    /// one transaction under an advisory lock, so that hosts starting at
    /// once wait for each other instead of racing (DDL is transactional in
    /// PostgreSQL: a failed upgrade leaves nothing behind). A schema newer
    /// than this Keep knows is refused.
    static func prepare(_ connection: PostgresConnection, location: PostgresLocation) async throws -> [UInt8] {
        if let version = try await storedVersion(connection), version >= currentVersion {
            try check(version, location: location)
            return try await secret(connection)
        }
        return try await connection.withTransaction(logger: PostgresBackend.logger) { connection in
            let lockName = "keep schema \(location.schema ?? "public")"
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(lockName)))", logger: PostgresBackend.logger)
            if let schema = location.schema {
                // A plain name (checked when the URL was parsed), so it needs no quoting.
                try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: schema)", logger: PostgresBackend.logger)
            }
            try await connection.query("CREATE TABLE IF NOT EXISTS keep_schema (version integer NOT NULL)",
                                       logger: PostgresBackend.logger)
            let stored = try await Self.storedVersion(connection) ?? 0
            try Self.check(stored, location: location)
            var generator = SystemRandomNumberGenerator()
            let secret = (0 ..< 32).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
            let steps = Self.versions(secret: secret)
            for statements in steps[stored...] {
                for statement in statements { try await connection.query(statement, logger: PostgresBackend.logger) }
            }
            try await connection.query("DELETE FROM keep_schema", logger: PostgresBackend.logger)
            try await connection.query("INSERT INTO keep_schema (version) VALUES (\(steps.count))",
                                       logger: PostgresBackend.logger)
            return try await Self.secret(connection)
        }
    }

    /// The stored version; nil when there is no `keep_schema` table (or row) yet.
    static func storedVersion(_ connection: PostgresConnection) async throws -> Int? {
        let exists = try await connection.query("SELECT to_regclass('keep_schema') IS NOT NULL",
                                                logger: PostgresBackend.logger).collect()
        guard try exists.first?.decode(Bool.self) == true else { return nil }
        let rows = try await connection.query("SELECT max(version) FROM keep_schema", logger: PostgresBackend.logger).collect()
        return try rows.first?.decode(Int?.self).map { $0 }
    }

    /// Refuses a schema from a newer Keep.
    static func check(_ version: Int, location: PostgresLocation) throws {
        guard version <= currentVersion else {
            throw KeepError(.invalid, "the database \(location) has schema version \(version), newer than this Keep knows (\(currentVersion)): a newer Keep set it up; use a newer keep",
                            details: ["schema_version": .integer(Int64(version)),
                                      "known_version": .integer(Int64(currentVersion))])
        }
    }

    static func secret(_ connection: PostgresConnection) async throws -> [UInt8] {
        let rows = try await connection.query("SELECT value FROM keep_meta WHERE key = 'page_token_secret'",
                                              logger: PostgresBackend.logger).collect()
        guard let row = rows.first else {
            throw KeepError(.internal, "the database has Keep's schema but no page-token secret; it was changed by hand")
        }
        return Array(try row.decode(ByteBuffer.self).readableBytesView)
    }
}
