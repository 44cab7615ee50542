import Foundation
import GRDB

/// The versioned schema of the SQLite backend. Migrations are append-only:
/// a released one is never edited, a change is a new one.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: sessions") { db in
            try db.execute(sql: """
                CREATE TABLE keep_meta (
                  key TEXT PRIMARY KEY NOT NULL,
                  value BLOB NOT NULL
                );
                CREATE TABLE sessions (
                  id TEXT PRIMARY KEY NOT NULL,
                  owner TEXT NOT NULL,
                  title TEXT NOT NULL,
                  title_key TEXT NOT NULL,      -- lower-cased title: sorting and filtering ignore case
                  description TEXT,
                  content TEXT NOT NULL,
                  hash TEXT NOT NULL,           -- SHA-256 of content, lowercase hex
                  version INTEGER NOT NULL,
                  created_at INTEGER NOT NULL,  -- milliseconds since the Unix epoch, UTC
                  updated_at INTEGER NOT NULL
                );
                CREATE INDEX sessions_by_owner_updated ON sessions(owner, updated_at, id);
                CREATE INDEX sessions_by_owner_created ON sessions(owner, created_at, id);
                CREATE INDEX sessions_by_owner_title ON sessions(owner, title_key, id);
                """)
        }
        migrator.registerMigration("v2: snapshots, access logs, jobs") { db in
            try db.execute(sql: """
                CREATE TABLE snapshots (
                  id TEXT PRIMARY KEY NOT NULL,
                  owner TEXT NOT NULL,
                  title TEXT NOT NULL,
                  title_key TEXT NOT NULL,
                  description TEXT,
                  content TEXT NOT NULL,
                  hash TEXT NOT NULL,
                  created_at INTEGER NOT NULL
                );
                CREATE INDEX snapshots_by_owner_created ON snapshots(owner, created_at, id);
                CREATE INDEX snapshots_by_owner_title ON snapshots(owner, title_key, id);

                -- One row per (visitor, snapshot), with the snapshot's metadata as it was
                -- when the row was created.
                CREATE TABLE access_logs (
                  visitor TEXT NOT NULL,
                  snapshot_id TEXT NOT NULL,
                  snapshot_owner TEXT NOT NULL,
                  visits INTEGER NOT NULL,
                  first_visited_at INTEGER NOT NULL,
                  last_visited_at INTEGER NOT NULL,
                  snapshot_title TEXT NOT NULL,
                  snapshot_title_key TEXT NOT NULL,
                  snapshot_description TEXT,
                  snapshot_created_at INTEGER NOT NULL,
                  snapshot_hash TEXT NOT NULL,
                  snapshot_deleted INTEGER NOT NULL DEFAULT 0,
                  snapshot_deleted_at INTEGER,
                  PRIMARY KEY (visitor, snapshot_id)
                );
                CREATE INDEX access_logs_by_snapshot ON access_logs(snapshot_id, snapshot_deleted);
                CREATE INDEX access_logs_by_visitor_last ON access_logs(visitor, last_visited_at, snapshot_id);

                CREATE TABLE jobs (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  kind TEXT NOT NULL,
                  payload TEXT NOT NULL,
                  state TEXT NOT NULL,            -- pending, running, done, dead
                  attempts INTEGER NOT NULL DEFAULT 0,
                  next_run_at INTEGER NOT NULL,
                  last_error TEXT,
                  lease_holder TEXT,
                  lease_expires_at INTEGER,
                  created_at INTEGER NOT NULL,
                  updated_at INTEGER NOT NULL
                );
                CREATE INDEX jobs_due ON jobs(state, next_run_at);
                """)
        }
        migrator.registerMigration("v3: content migration ledger") { db in
            try db.execute(sql: """
                -- One row per content migration (SPEC §7) this store has seen.
                CREATE TABLE migrations (
                  id TEXT PRIMARY KEY NOT NULL,    -- the file's number, "0001"
                  name TEXT NOT NULL,
                  description TEXT NOT NULL,
                  target TEXT NOT NULL,            -- sessions, snapshots, all
                  checksum TEXT NOT NULL,          -- SHA-256 of the file, lowercase hex
                  state TEXT NOT NULL,             -- running, failed, applied, rolling_back, rolled_back
                  scanned INTEGER NOT NULL,
                  changed INTEGER NOT NULL,
                  failed INTEGER NOT NULL,
                  checkpoint_kind TEXT,            -- session, snapshot: the last document a batch committed
                  checkpoint_id TEXT,
                  keeps_backup INTEGER NOT NULL,
                  started_at INTEGER NOT NULL,
                  finished_at INTEGER,
                  elapsed_ms INTEGER NOT NULL,
                  last_error TEXT
                );
                -- How to restore every document a migration changed: its previous title,
                -- description and hash, the content as a patch over what the migration wrote
                -- (shared prefix and suffix lengths, the differing middle), and what it wrote
                -- (a rollback restores only documents nobody changed since).
                CREATE TABLE migration_backups (
                  migration TEXT NOT NULL,
                  kind TEXT NOT NULL,
                  id TEXT NOT NULL,
                  title TEXT NOT NULL,
                  description TEXT,
                  hash TEXT NOT NULL,
                  patch_prefix INTEGER NOT NULL,
                  patch_suffix INTEGER NOT NULL,
                  patch_middle BLOB NOT NULL,
                  after_title TEXT NOT NULL,
                  after_description TEXT,
                  after_hash TEXT NOT NULL,
                  conflict INTEGER NOT NULL DEFAULT 0,
                  PRIMARY KEY (migration, kind, id)
                );
                CREATE TABLE migration_failures (
                  migration TEXT NOT NULL,
                  kind TEXT NOT NULL,
                  id TEXT NOT NULL,
                  message TEXT NOT NULL,
                  PRIMARY KEY (migration, kind, id)
                );
                -- At most one row: who runs migrations, until when.
                CREATE TABLE migration_lock (
                  name TEXT PRIMARY KEY NOT NULL,
                  holder TEXT NOT NULL,
                  acquired_at INTEGER NOT NULL,
                  expires_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v4: page token secret") { db in
            // Created here, once, so that opening and listing never write it.
            try db.execute(sql: "INSERT OR IGNORE INTO keep_meta (key, value) VALUES ('page_token_secret', ?)",
                           arguments: [Data(newSecret())])
        }
        return migrator
    }

    /// 32 random bytes from the OS CSPRNG, for signing page tokens.
    static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0 ..< 32).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
    }
}
