import KeepCore
import KeepStore
import PostgresNIO

extension PostgresBackend: MigrationStorage {
    public func migrationLedger() async throws -> [MigrationRecord] {
        try await rows("read the migration ledger", "SELECT \(unescaped: StoredColumns.migrationRecord) FROM migrations ORDER BY id")
            .map(Self.record(from:))
    }

    public func migrationFailures(migration: String) async throws -> [MigrationFailure] {
        try await rows("read a migration's failures", """
            SELECT kind, id, message FROM migration_failures WHERE migration = \(migration) ORDER BY kind, id
            """).map { row in
            let row = RowReader(row)
            return MigrationFailure(kind: try DocumentKind(stored: try row["kind"]), id: try row.id("id"), message: try row["message"])
        }
    }

    public func migrationLock() async throws -> MigrationLock? {
        try await rows("read the migration lock", Self.lockQuery).first.map(Self.lock(from:))
    }

    /// Takes the holder's session advisory lock on a dedicated connection
    /// first, then the lease: one upsert that takes a free or expired lock,
    /// or renews the holder's own. When it writes nothing, another holder
    /// has a live lease; if that holder's advisory lock is free, its process
    /// is gone (the server frees a session's advisory locks when its
    /// connection ends), and the lease is taken over from it at once.
    ///
    /// Each holder locks a key of its own (its schema and name, hashed), not
    /// one shared key: then a stalled runner whose lease expired still loses
    /// the lock to the lease, as before, and schemas of one database never
    /// wait for each other.
    public func acquireMigrationLock(holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws
        -> MigrationLock? {
        let session = try await migrationLockSession(holder)
        do {
            if let held = try await takeLease(holder: holder, now: now, leaseMilliseconds: leaseMilliseconds, session: session) {
                await closeMigrationLockSession(holder)
                return held
            }
            return nil
        } catch {
            await closeMigrationLockSession(holder)
            throw error
        }
    }

    private func takeLease(holder: String, now: Timestamp, leaseMilliseconds: Int64,
                           session: PostgresConnection) async throws -> MigrationLock? {
        for _ in 0 ..< Self.transactionAttempts {
            if try await !rows("take the migration lock", Self.takeLeaseQuery(
                holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)).isEmpty {
                return nil
            }
            // Released between the two statements: try again.
            guard let lock = try await migrationLock() else { continue }
            guard try await Self.isGone(lock.holder, probing: session) else { return lock }
            // Taken over only if the dead holder still has it (another runner may have been quicker).
            if try await !rows("take the migration lock", Self.takeLeaseQuery(
                holder: holder, now: now, leaseMilliseconds: leaseMilliseconds, from: lock.holder)).isEmpty {
                return nil
            }
        }
        throw KeepError(.unavailable, "could not take the migration lock: it kept changing hands (try again)")
    }

    public func renewMigrationLock(holder: String, now: Timestamp, leaseMilliseconds: Int64) async throws -> Bool {
        try await !rows("renew the migration lock", Self.renewQuery(holder: holder, now: now,
                                                                    leaseMilliseconds: leaseMilliseconds)).isEmpty
    }

    /// Deletes the lease, then closes the dedicated connection, which frees the advisory lock.
    public func releaseMigrationLock(holder: String) async throws {
        do {
            _ = try await rows("release the migration lock", """
                DELETE FROM migration_lock WHERE name = 'migrate' AND holder = \(holder)
                """)
        } catch {
            await closeMigrationLockSession(holder)
            throw error
        }
        await closeMigrationLockSession(holder)
    }

    public func breakMigrationLock() async throws -> MigrationLock? {
        try await rows("release the migration lock by hand", """
            DELETE FROM migration_lock WHERE name = 'migrate' RETURNING holder, acquired_at, expires_at
            """).first.map(Self.lock(from:))
    }

    // MARK: The session advisory lock

    /// The advisory lock class of migration holders: "KEEP" in ASCII. The key
    /// is `hashtext(schema/holder)`, since advisory locks span the database and
    /// each schema has a lock of its own. The two-key form never meets the
    /// schema upgrade's one-key lock.
    static let holderLockClass: Int32 = 0x4B45_4550

    /// The holder's dedicated connection, opened with its advisory lock taken
    /// on the first call and kept until `closeMigrationLockSession`.
    private func migrationLockSession(_ holder: String) async throws -> PostgresConnection {
        if let session = migrationLockSessions.withLock({ $0[holder] }) { return session }
        let doing = "take the migration lock"
        do {
            let connection = try await Self.connect(location, doing: doing)
            let locked = try await connection.query("""
                SELECT pg_try_advisory_lock(\(Self.holderLockClass), hashtext(current_schema() || '/' || \(holder)))
                """, logger: Self.logger).collect().first?.decode(Bool.self) ?? false
            guard locked else {
                try? await connection.close()
                // Another live session has this holder's key: the same name, or (rarely) its hash.
                throw KeepError(.conflict, "could not take the advisory lock of \(holder): another session holds "
                    + "the same key; try again (a new run picks a new name)")
            }
            migrationLockSessions.withLock { $0[holder] = connection }
            return connection
        } catch {
            throw Self.keepError(error, doing: doing, location: location)
        }
    }

    private func closeMigrationLockSession(_ holder: String) async {
        guard let session = migrationLockSessions.withLock({ $0.removeValue(forKey: holder) }) else { return }
        try? await session.close()
    }

    /// Whether `holder`'s advisory lock is free, that is its session ended:
    /// tries to take it on `session` and, if that succeeds, lets it go again.
    static func isGone(_ holder: String, probing session: PostgresConnection) async throws -> Bool {
        try await session.query("""
            SELECT CASE WHEN pg_try_advisory_lock(\(holderLockClass), hashtext(current_schema() || '/' || \(holder)))
              THEN pg_advisory_unlock(\(holderLockClass), hashtext(current_schema() || '/' || \(holder))) ELSE false END
            """, logger: logger).collect().first?.decode(Bool.self) ?? false
    }

    public func saveMigrationRecord(_ record: MigrationRecord, startingOver: Bool, holder: String, now: Timestamp,
                                    leaseMilliseconds: Int64) async throws {
        try await transaction("update the migration ledger") { connection in
            try await Self.requireLock(connection, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
            if startingOver {
                try await connection.query("DELETE FROM migration_backups WHERE migration = \(record.id)", logger: Self.logger)
                try await connection.query("DELETE FROM migration_failures WHERE migration = \(record.id)", logger: Self.logger)
            }
            try await connection.query(Self.saveRecordQuery(record), logger: Self.logger)
        }
    }

    public func migrationDocumentCount(_ kind: DocumentKind) async throws -> Int64 {
        try await rows("count documents", "SELECT count(*) FROM \(unescaped: kind.table)")
            .first?.decode(Int64.self) ?? 0
    }

    public func migrationDocuments(_ kind: DocumentKind, after: ResourceID?, limit: Int, byteLimit: Int) async throws
        -> [MigrationDocument] {
        do {
            // Rows stream in: reading stops once the batch holds `byteLimit` bytes of content.
            let rows = try await client.query("""
                SELECT \(unescaped: StoredColumns.migrationDocument) FROM \(unescaped: kind.table)
                WHERE id > \(after?.rawValue ?? "") ORDER BY id LIMIT \(Int64(limit))
                """, logger: Self.logger)
            var documents: [MigrationDocument] = []
            documents.reserveCapacity(limit)
            var bytes = 0
            var iterator = rows.makeAsyncIterator()
            while bytes < byteLimit, let row = try await iterator.next() {
                let document = try Self.document(kind, from: row)
                bytes += document.content.utf8.count
                documents.append(document)
            }
            // Drains what the limit left unread, so the connection goes back to the pool clean.
            while try await iterator.next() != nil {}
            return documents
        } catch {
            throw Self.keepError(error, doing: "read documents to migrate", location: location)
        }
    }

    public func commitMigrationBatch(_ batch: MigrationBatch, holder: String, now: Timestamp,
                                     leaseMilliseconds: Int64) async throws -> MigrationBatchOutcome {
        try await transaction("commit a migration batch") { connection in
            try await Self.requireLock(connection, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
            let migration = batch.record.id
            try await connection.query("SAVEPOINT migration_batch", logger: Self.logger)
            let moved = try await MigrationBatchStatements.write(connection, batch, migration: migration)
            guard moved.isEmpty else {
                try await connection.query("ROLLBACK TO SAVEPOINT migration_batch", logger: Self.logger)
                var documents: [MigrationMovedDocument] = []
                for read in moved {
                    documents.append(MigrationMovedDocument(kind: read.kind, id: read.id,
                                                            current: try await Self.fetchDocument(connection, read.kind, id: read.id)))
                }
                return .moved(documents)
            }
            for failure in batch.failures {
                try await connection.query(Self.saveFailureQuery(migration: migration, kind: failure.kind,
                                                                 id: failure.id, message: failure.message),
                                           logger: Self.logger)
            }
            let record = batch.committedRecord
            try await connection.query(Self.saveRecordQuery(record), logger: Self.logger)
            return .committed(record)
        }
    }

    public func migrationBackups(migration: String, limit: Int) async throws -> [MigrationBackup] {
        try await rows("read a migration's backups", """
            SELECT kind, id, title, description, hash, patch_prefix, patch_suffix, patch_middle,
              after_title, after_description, after_hash
            FROM migration_backups WHERE migration = \(migration) AND NOT conflict ORDER BY kind, id LIMIT \(Int64(limit))
            """).map { row in
            let row = RowReader(row)
            let middle: ByteBuffer = try row["patch_middle"]
            return MigrationBackup(kind: try DocumentKind(stored: try row["kind"]), id: try row.id("id"), title: try row["title"],
                                   description: try row["description"], hash: ContentHash(storedHex: try row["hash"]),
                                   patch: ContentPatch(prefixLength: Int(try row["patch_prefix", as: Int64.self]),
                                                       suffixLength: Int(try row["patch_suffix", as: Int64.self]),
                                                       middle: Array(middle.readableBytesView)),
                                   afterTitle: try row["after_title"], afterDescription: try row["after_description"],
                                   afterHash: ContentHash(storedHex: try row["after_hash"]))
        }
    }

    public func commitRollbackBatch(migration: String, _ backups: [MigrationBackup], holder: String, now: Timestamp,
                                    leaseMilliseconds: Int64) async throws -> RollbackTally {
        try await transaction("commit a rollback batch") { connection in
            try await Self.requireLock(connection, holder: holder, now: now, leaseMilliseconds: leaseMilliseconds)
            var tally = RollbackTally()
            for backup in backups {
                let (kind, id) = (backup.kind.rawValue, backup.id.rawValue)
                guard let current = try await Self.fetchDocument(connection, backup.kind, id: backup.id) else {
                    tally.gone += 1
                    try await connection.query("""
                        DELETE FROM migration_backups WHERE migration = \(migration) AND kind = \(kind) AND id = \(id)
                        """, logger: Self.logger)
                    continue
                }
                guard backup.isMigratedForm(current) else {
                    tally.conflicts += 1
                    try await connection.query("""
                        UPDATE migration_backups SET conflict = true
                        WHERE migration = \(migration) AND kind = \(kind) AND id = \(id)
                        """, logger: Self.logger)
                    try await connection.query(Self.saveFailureQuery(
                        migration: migration, kind: backup.kind, id: backup.id,
                        message: "rollback: changed since the migration ran; left as it is"), logger: Self.logger)
                    continue
                }
                guard let previous = backup.restored(from: current),
                      try await Self.write(connection, MigrationChange(before: current, after: previous)) else {
                    throw KeepError(.internal, "the backup of \(backup.kind) \(backup.id) does not restore its "
                        + "previous content (hash \(backup.hash)); nothing of this batch was written")
                }
                tally.restored += 1
                try await connection.query("""
                    DELETE FROM migration_backups WHERE migration = \(migration) AND kind = \(kind) AND id = \(id)
                    """, logger: Self.logger)
            }
            return tally
        }
    }

    // MARK: Rows and statements

    static func document(_ kind: DocumentKind, from row: PostgresRow) throws -> MigrationDocument {
        let row = RowReader(row)
        return MigrationDocument(kind: kind, id: try row.id("id"), owner: try row["owner"], title: try row["title"],
                                 description: try row["description"], content: try row["content"],
                                 hash: ContentHash(storedHex: try row["hash"]))
    }

    /// The document as stored, locked until the batch commits.
    static func fetchDocument(_ connection: PostgresConnection, _ kind: DocumentKind,
                              id: ResourceID) async throws -> MigrationDocument? {
        try await connection.query("""
            SELECT \(unescaped: StoredColumns.migrationDocument) FROM \(unescaped: kind.table) WHERE id = \(id.rawValue) FOR UPDATE
            """, logger: logger).collect().first.map { try document(kind, from: $0) }
    }

    /// Writes `change.after` if the stored document still has `change.before`'s
    /// fields; false otherwise. (A rollback's restore; a migration batch
    /// writes all its changes at once: `MigrationBatchStatements`.)
    static func write(_ connection: PostgresConnection, _ change: MigrationChange) async throws -> Bool {
        let (before, after) = (change.before, change.after)
        let version = before.kind == .session ? ", version = version + 1" : ""
        let updated = try await connection.query("""
            UPDATE \(unescaped: before.kind.table) SET title = \(after.title.bytes), title_key = \(after.title.titleKey.bytes),
              description = \(after.description?.bytes), content = \(after.content.bytes), hash = \(after.hash.hex)\(unescaped: version)
            WHERE id = \(before.id.rawValue) AND hash = \(before.hash.hex) AND title = \(before.title.bytes)
              AND description IS NOT DISTINCT FROM \(before.description?.bytes)
            RETURNING id
            """, logger: logger).collect()
        guard !updated.isEmpty else { return false }
        if before.kind == .snapshot {
            try await connection.query("""
                UPDATE access_logs SET snapshot_title = \(after.title.bytes), snapshot_title_key = \(after.title.titleKey.bytes),
                  snapshot_description = \(after.description?.bytes), snapshot_hash = \(after.hash.hex)
                WHERE snapshot_id = \(before.id.rawValue)
                """, logger: logger)
        }
        return true
    }

    static let lockQuery: PostgresQuery = "SELECT holder, acquired_at, expires_at FROM migration_lock WHERE name = 'migrate'"

    static func lock(from row: PostgresRow) throws -> MigrationLock {
        let row = RowReader(row)
        return MigrationLock(holder: try row["holder"], acquiredAt: try row.timestamp("acquired_at"),
                             expiresAt: try row.timestamp("expires_at"))
    }

    /// Writes the holder's lease over a lock that is free, expired or its
    /// own, or, with `dead`, over the lock of that holder only.
    static func takeLeaseQuery(holder: String, now: Timestamp, leaseMilliseconds: Int64,
                               from dead: String? = nil) -> PostgresQuery {
        let (ms, until) = (now.millisecondsSinceEpoch, now.millisecondsSinceEpoch + leaseMilliseconds)
        if let dead {
            return """
                UPDATE migration_lock SET holder = \(holder), acquired_at = \(ms), expires_at = \(until)
                WHERE name = 'migrate' AND holder = \(dead)
                RETURNING holder
                """
        }
        return """
            INSERT INTO migration_lock AS lock (name, holder, acquired_at, expires_at)
            VALUES ('migrate', \(holder), \(ms), \(until))
            ON CONFLICT (name) DO UPDATE SET
              acquired_at = CASE WHEN lock.holder = excluded.holder THEN lock.acquired_at ELSE excluded.acquired_at END,
              holder = excluded.holder, expires_at = excluded.expires_at
              WHERE lock.holder = excluded.holder OR lock.expires_at <= \(ms)
            RETURNING holder
            """
    }

    static func renewQuery(holder: String, now: Timestamp, leaseMilliseconds: Int64) -> PostgresQuery {
        """
        UPDATE migration_lock SET expires_at = \(now.millisecondsSinceEpoch + leaseMilliseconds)
        WHERE name = 'migrate' AND holder = \(holder)
        RETURNING holder
        """
    }

    /// Renews the lease inside a write, or fails the write when the lock
    /// moved on. The renewal locks the lock's row until the commit, so the
    /// lock cannot change hands while the batch writes.
    static func requireLock(_ connection: PostgresConnection, holder: String, now: Timestamp,
                            leaseMilliseconds: Int64) async throws {
        let renewed = try await connection.query(renewQuery(holder: holder, now: now, leaseMilliseconds: leaseMilliseconds),
                                                 logger: logger).collect()
        guard renewed.isEmpty else { return }
        let current = try await connection.query(lockQuery, logger: logger).collect().first.map(lock(from:))
        let who = current.map { "\($0.holder) holds it now" } ?? "nobody holds it now"
        throw KeepError(.conflict, "the migration lock is no longer held by \(holder) (\(who)); "
            + "its lease expired and this run stopped without writing")
    }

    static func saveFailureQuery(migration: String, kind: DocumentKind, id: ResourceID, message: String) -> PostgresQuery {
        """
        INSERT INTO migration_failures (migration, kind, id, message)
        VALUES (\(migration), \(kind.rawValue), \(id.rawValue), \(message.storableText))
        ON CONFLICT (migration, kind, id) DO UPDATE SET message = excluded.message
        """
    }

    static func saveRecordQuery(_ record: MigrationRecord) -> PostgresQuery {
        """
        INSERT INTO migrations (\(unescaped: StoredColumns.migrationRecord))
        VALUES (\(record.id), \(record.name.storableText), \(record.description.storableText), \(record.target.rawValue),
          \(record.checksum), \(record.state.rawValue), \(record.scanned), \(record.changed), \(record.failed),
          \(record.checkpoint?.kind.rawValue), \(record.checkpoint?.id.rawValue), \(record.keepsBackup),
          \(record.startedAt.millisecondsSinceEpoch), \(record.finishedAt?.millisecondsSinceEpoch),
          \(record.elapsedMilliseconds), \(record.lastError?.storableText))
        ON CONFLICT (id) DO UPDATE SET
          name = excluded.name, description = excluded.description, target = excluded.target,
          checksum = excluded.checksum, state = excluded.state, scanned = excluded.scanned, changed = excluded.changed,
          failed = excluded.failed, checkpoint_kind = excluded.checkpoint_kind, checkpoint_id = excluded.checkpoint_id,
          keeps_backup = excluded.keeps_backup, started_at = excluded.started_at, finished_at = excluded.finished_at,
          elapsed_ms = excluded.elapsed_ms, last_error = excluded.last_error
        """
    }

    static func record(from row: PostgresRow) throws -> MigrationRecord {
        let row = RowReader(row)
        return try MigrationRecord(
            storedID: try row["id"], name: try row["name"], description: try row["description"],
            target: try row["target"], checksum: try row["checksum"], state: try row["state"],
            scanned: try row["scanned"], changed: try row["changed"], failed: try row["failed"],
            checkpointKind: try row["checkpoint_kind"], checkpointID: try row["checkpoint_id"],
            keepsBackup: try row["keeps_backup"], startedAt: try row.timestamp("started_at"),
            finishedAt: try row.optionalTimestamp("finished_at"), elapsedMilliseconds: try row["elapsed_ms"],
            lastError: try row["last_error"])
    }
}
