import Foundation
import GRDB
import KeepCore
import KeepStore

extension SQLiteBackend: MigrationStorage {
    public func migrationLedger() async throws -> [MigrationRecord] {
        try await read("read the migration ledger") { db in
            // A read-only store with an older schema has no ledger yet.
            guard try Self.hasTable(db, "migrations") else { return [] }
            return try Row.fetchAll(db, sql: "SELECT \(StoredColumns.migrationRecord) FROM migrations ORDER BY id")
                .map(Self.record(from:))
        }
    }

    public func migrationFailures(migration: String) async throws -> [MigrationFailure] {
        try await read("read a migration's failures") { db in
            guard try Self.hasTable(db, "migration_failures") else { return [] }
            return try Row.fetchAll(db, sql: """
                SELECT kind, id, message FROM migration_failures WHERE migration = ? ORDER BY kind, id
                """, arguments: [migration]).map { row in
                MigrationFailure(kind: try DocumentKind(stored: row["kind"]), id: try ResourceID(row["id"]), message: row["message"])
            }
        }
    }

    public func migrationLock() async throws -> MigrationLock? {
        try await read("read the migration lock") { db in
            guard try Self.hasTable(db, "migration_lock") else { return nil }
            return try Self.fetchLock(db)
        }
    }

    public func acquireMigrationLock(holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws
        -> MigrationLock? {
        try await write("take the migration lock") { db in
            let ms = now.millisecondsSinceEpoch
            if let lock = try Self.fetchLock(db), lock.holder != holder, lock.expiresAt.millisecondsSinceEpoch > ms,
               MigrationHolder(name: lock.holder)?.isGoneFromThisHost != true {
                return lock
            }
            try db.execute(sql: """
                INSERT INTO migration_lock (name, holder, acquired_at, expires_at) VALUES ('migrate', ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET
                  acquired_at = CASE WHEN holder = excluded.holder THEN acquired_at ELSE excluded.acquired_at END,
                  holder = excluded.holder, expires_at = excluded.expires_at
                """, arguments: [holder, ms, ms + leaseMilliseconds])
            return nil
        }
    }

    public func renewMigrationLock(holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Bool {
        try await write("renew the migration lock") { db in
            try Self.renewLock(db, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
        }
    }

    public func releaseMigrationLock(holder: String) async throws {
        try await write("release the migration lock") { db in
            try db.execute(sql: "DELETE FROM migration_lock WHERE name = 'migrate' AND holder = ?", arguments: [holder])
        }
    }

    public func breakMigrationLock() async throws -> MigrationLock? {
        try await write("release the migration lock by hand") { db in
            let lock = try Self.fetchLock(db)
            try db.execute(sql: "DELETE FROM migration_lock WHERE name = 'migrate'")
            return lock
        }
    }

    public func saveMigrationRecord(_ record: MigrationRecord, startingOver: Bool, holder: String, now: Timestamp,
                                    leaseMilliseconds: Int64) async throws {
        try await write("update the migration ledger") { db in
            try Self.requireLock(db, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
            if startingOver {
                try db.execute(sql: "DELETE FROM migration_backups WHERE migration = ?", arguments: [record.id])
                try db.execute(sql: "DELETE FROM migration_failures WHERE migration = ?", arguments: [record.id])
            }
            try Self.saveRecord(db, record)
        }
    }

    public func migrationDocumentCount(_ kind: DocumentKind) async throws -> Int64 {
        try await read("count documents") { db in
            try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM \(kind.table)") ?? 0
        }
    }

    public func migrationDocuments(_ kind: DocumentKind, after: ResourceID?, limit: Int, byteLimit: Int) async throws
        -> [MigrationDocument] {
        try await read("read documents to migrate") { db in
            let statement = try db.cachedStatement(sql: """
                SELECT \(StoredColumns.migrationDocument) FROM \(kind.table)
                WHERE id > ? ORDER BY id LIMIT ?
                """)
            var documents: [MigrationDocument] = []
            documents.reserveCapacity(limit)
            let rows = try Row.fetchCursor(statement, arguments: [after?.rawValue ?? "", limit])
            var bytes = 0
            while bytes < byteLimit, let row = try rows.next() {
                let document = try Self.document(kind, from: row)
                bytes += document.content.utf8.count
                documents.append(document)
            }
            return documents
        }
    }

    public func commitMigrationBatch(_ batch: MigrationBatch, holder: String, now: Timestamp,
                                     leaseMilliseconds: Int64) async throws -> MigrationBatchOutcome {
        try await write("commit a migration batch") { db in
            try Self.requireLock(db, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
            let migration = batch.record.id
            var moved: [MigrationDocument] = []
            try db.inSavepoint {
                moved = try batch.writeChanges({ try Self.write(db, $0, migration: migration, backup: batch.record.keepsBackup) },
                                               isStored: { try Self.isStored(db, $0) })
                return moved.isEmpty ? .commit : .rollback
            }
            guard moved.isEmpty else {
                return .moved(try moved.map { read in
                    MigrationMovedDocument(kind: read.kind, id: read.id, current: try Self.fetchDocument(db, read.kind, id: read.id))
                })
            }
            for failure in batch.failures {
                try db.execute(sql: """
                    INSERT OR REPLACE INTO migration_failures (migration, kind, id, message) VALUES (?, ?, ?, ?)
                    """, arguments: [migration, failure.kind.rawValue, failure.id.rawValue, failure.message])
            }
            let record = batch.committedRecord
            try Self.saveRecord(db, record)
            return .committed(record)
        }
    }

    public func migrationBackups(migration: String, limit: Int) async throws -> [MigrationBackup] {
        try await read("read a migration's backups") { db in
            try Row.fetchAll(db, sql: """
                SELECT kind, id, title, description, hash, patch_prefix, patch_suffix, patch_middle,
                  after_title, after_description, after_hash
                FROM migration_backups WHERE migration = ? AND conflict = 0 ORDER BY kind, id LIMIT ?
                """, arguments: [migration, limit]).map { row in
                let middle: Data = row[7]
                return MigrationBackup(kind: try DocumentKind(stored: row[0]), id: try ResourceID(row[1] as String), title: row[2],
                                       description: row[3], hash: ContentHash(storedHex: row[4]),
                                       patch: ContentPatch(prefixLength: row[5], suffixLength: row[6], middle: Array(middle)),
                                       afterTitle: row[8], afterDescription: row[9],
                                       afterHash: ContentHash(storedHex: row[10]))
            }
        }
    }

    public func commitRollbackBatch(migration: String, _ backups: [MigrationBackup], holder: String, now: Timestamp,
                                    leaseMilliseconds: Int64) async throws -> RollbackTally {
        try await write("commit a rollback batch") { db in
            try Self.requireLock(db, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
            var tally = RollbackTally()
            for backup in backups {
                let key: StatementArguments = [migration, backup.kind.rawValue, backup.id.rawValue]
                guard let current = try Self.fetchDocument(db, backup.kind, id: backup.id) else {
                    tally.gone += 1
                    try db.execute(sql: "DELETE FROM migration_backups WHERE migration = ? AND kind = ? AND id = ?",
                                   arguments: key)
                    continue
                }
                guard backup.isMigratedForm(current) else {
                    tally.conflicts += 1
                    try db.execute(sql: "UPDATE migration_backups SET conflict = 1 WHERE migration = ? AND kind = ? AND id = ?",
                                   arguments: key)
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO migration_failures (migration, kind, id, message) VALUES (?, ?, ?, ?)
                        """, arguments: key + ["rollback: changed since the migration ran; left as it is"])
                    continue
                }
                guard let previous = backup.restored(from: current),
                      try Self.write(db, MigrationChange(before: current, after: previous), migration: migration,
                                     backup: false) else {
                    throw KeepError(.internal, "the backup of \(backup.kind) \(backup.id) does not restore its "
                        + "previous content (hash \(backup.hash)); nothing of this batch was written")
                }
                tally.restored += 1
                try db.execute(sql: "DELETE FROM migration_backups WHERE migration = ? AND kind = ? AND id = ?",
                               arguments: key)
            }
            return tally
        }
    }

    // MARK: Rows and statements

    /// Reads the columns of `StoredColumns.migrationDocument`, in order.
    static func document(_ kind: DocumentKind, from row: Row) throws -> MigrationDocument {
        MigrationDocument(kind: kind, id: try ResourceID(row[0] as String), owner: row[1], title: row[2],
                          description: row[3], content: row[4], hash: ContentHash(storedHex: row[5]))
    }

    static func fetchDocument(_ db: Database, _ kind: DocumentKind, id: ResourceID) throws -> MigrationDocument? {
        try Row.fetchOne(db, sql: "SELECT \(StoredColumns.migrationDocument) FROM \(kind.table) WHERE id = ?",
                         arguments: [id.rawValue]).map { try document(kind, from: $0) }
    }

    /// Whether the document is stored with these fields (hash, title, description); false when gone.
    static func isStored(_ db: Database, _ document: MigrationDocument) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT hash = ? AND title = ? AND description IS ? FROM \(document.kind.table) WHERE id = ?
            """), arguments: [document.hash.hex, document.title, document.description, document.id.rawValue]) ?? false
    }

    /// Writes `change.after` if the stored document still has `change.before`'s
    /// fields; false otherwise. Keeps a backup when asked.
    static func write(_ db: Database, _ change: MigrationChange, migration: String, backup: Bool) throws -> Bool {
        let (before, after) = (change.before, change.after)
        let version = before.kind == .session ? ", version = version + 1" : ""
        let condition = "WHERE id = ? AND hash = ? AND title = ? AND description IS ?"
        let unchanged: StatementArguments = [before.id.rawValue, before.hash.hex, before.title, before.description]
        if before.title == after.title && before.description == after.description {
            // Leaves the title index alone: most migrations change content only.
            try db.cachedStatement(sql: "UPDATE \(before.kind.table) SET content = ?, hash = ?\(version) \(condition)")
                .execute(arguments: [after.content, after.hash.hex] + unchanged)
        } else {
            try db.cachedStatement(sql: """
                UPDATE \(before.kind.table) SET title = ?, title_key = ?, description = ?, content = ?, hash = ?\(version)
                \(condition)
                """).execute(arguments: [after.title, after.title.titleKey, after.description, after.content,
                                         after.hash.hex] + unchanged)
        }
        guard db.changesCount > 0 else { return false }
        if before.kind == .snapshot {
            try db.cachedStatement(sql: """
                UPDATE access_logs SET snapshot_title = ?, snapshot_title_key = ?, snapshot_description = ?,
                  snapshot_hash = ?
                WHERE snapshot_id = ?
                """).execute(arguments: [after.title, after.title.titleKey, after.description, after.hash.hex,
                                         before.id.rawValue])
        }
        if backup {
            // A document is written once per run of a migration, so a second
            // backup of it is a bug: the insert fails and the batch with it.
            let backup = MigrationBackup(change)
            try db.cachedStatement(sql: """
                INSERT INTO migration_backups (migration, kind, id, title, description, hash, patch_prefix,
                  patch_suffix, patch_middle, after_title, after_description, after_hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [migration, backup.kind.rawValue, backup.id.rawValue, backup.title,
                                         backup.description, backup.hash.hex, backup.patch.prefixLength,
                                         backup.patch.suffixLength, Data(backup.patch.middle), backup.afterTitle,
                                         backup.afterDescription, backup.afterHash.hex])
        }
        return true
    }

    static func fetchLock(_ db: Database) throws -> MigrationLock? {
        try Row.fetchOne(db, sql: "SELECT holder, acquired_at, expires_at FROM migration_lock WHERE name = 'migrate'")
            .map { row in
                MigrationLock(holder: row["holder"], acquiredAt: Timestamp(millisecondsSinceEpoch: row["acquired_at"]),
                              expiresAt: Timestamp(millisecondsSinceEpoch: row["expires_at"]))
            }
    }

    static func renewLock(_ db: Database, holder: String, now: Timestamp, leaseMilliseconds: Int64) throws -> Bool {
        try db.cachedStatement(sql: "UPDATE migration_lock SET expires_at = ? WHERE name = 'migrate' AND holder = ?")
            .execute(arguments: [now.millisecondsSinceEpoch + leaseMilliseconds, holder])
        return db.changesCount > 0
    }

    /// Renews the lease inside a write, or fails the write when the lock moved on.
    static func requireLock(_ db: Database, holder: String, now: Timestamp, leaseMilliseconds: Int64) throws {
        guard try renewLock(db, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds) else {
            let current = try fetchLock(db).map { "\($0.holder) holds it now" } ?? "nobody holds it now"
            throw KeepError(.conflict, "the migration lock is no longer held by \(holder) (\(current)); "
                + "its lease expired and this run stopped without writing")
        }
    }

    static func saveRecord(_ db: Database, _ record: MigrationRecord) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO migrations (\(StoredColumns.migrationRecord)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                record.id, record.name, record.description, record.target.rawValue, record.checksum,
                record.state.rawValue, record.scanned, record.changed, record.failed,
                record.checkpoint?.kind.rawValue, record.checkpoint?.id.rawValue, record.keepsBackup,
                record.startedAt.millisecondsSinceEpoch, record.finishedAt?.millisecondsSinceEpoch,
                record.elapsedMilliseconds, record.lastError,
            ])
    }

    static func record(from row: Row) throws -> MigrationRecord {
        try MigrationRecord(
            storedID: row["id"], name: row["name"], description: row["description"], target: row["target"],
            checksum: row["checksum"], state: row["state"], scanned: row["scanned"], changed: row["changed"],
            failed: row["failed"], checkpointKind: row["checkpoint_kind"], checkpointID: row["checkpoint_id"],
            keepsBackup: row["keeps_backup"], startedAt: Timestamp(millisecondsSinceEpoch: row["started_at"]),
            finishedAt: (row["finished_at"] as Int64?).map(Timestamp.init(millisecondsSinceEpoch:)),
            elapsedMilliseconds: row["elapsed_ms"], lastError: row["last_error"])
    }
}
