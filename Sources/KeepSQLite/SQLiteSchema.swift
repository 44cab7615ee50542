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
        return migrator
    }
}
