import KeepCore
import KeepStore
import PostgresNIO

/// A migration batch written in a few statements over arrays (`unnest`)
/// instead of one or two round trips per document: the batch's updates,
/// the check of its unchanged documents, the visit logs of changed
/// snapshots and the backups. Each statement is conditional on what the
/// runner read, as the per-document writes were: a document that moved
/// since is not written, and its id is missing from what the statement
/// returns.
enum MigrationBatchStatements {
    /// Writes the batch's changes and locks its unchanged documents; the
    /// documents no longer stored as read (none written when the answer is
    /// not empty: the caller rolls the savepoint back). Backups and visit
    /// logs are written only when nothing moved.
    static func write(_ connection: PostgresConnection, _ batch: MigrationBatch, migration: String) async throws -> [MigrationDocument] {
        var moved: [MigrationDocument] = []
        for kind in [DocumentKind.session, .snapshot] {
            let changes = batch.changes.filter { $0.before.kind == kind }
            if !changes.isEmpty {
                let written = Set(try await ids(connection, update(kind, changes)))
                moved += changes.map(\.before).filter { !written.contains($0.id.rawValue) }
            }
            let unchanged = batch.unchanged.filter { $0.kind == kind }
            if !unchanged.isEmpty {
                let stored = Set(try await ids(connection, lockUnchanged(kind, unchanged)))
                moved += unchanged.filter { !stored.contains($0.id.rawValue) }
            }
        }
        guard moved.isEmpty else { return moved }
        let snapshots = batch.changes.filter { $0.before.kind == .snapshot }
        if !snapshots.isEmpty { try await connection.query(updateVisitLogs(snapshots), logger: PostgresBackend.logger) }
        if batch.record.keepsBackup, !batch.changes.isEmpty {
            // A document is written once per run of a migration, so a second
            // backup of it is a bug: the insert fails and the batch with it.
            try await connection.query(insertBackups(batch.changes.map(MigrationBackup.init), migration: migration),
                                       logger: PostgresBackend.logger)
        }
        return []
    }

    private static func ids(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [String] {
        try await connection.query(query, logger: PostgresBackend.logger).collect().map { try $0.decode(String.self) }
    }

    static func update(_ kind: DocumentKind, _ changes: [MigrationChange]) -> PostgresQuery {
        let before = changes.map(\.before), after = changes.map(\.after)
        let version = kind == .session ? ", version = d.version + 1" : ""
        return """
            UPDATE \(unescaped: kind.table) AS d SET title = c.after_title, title_key = c.after_title_key,
              description = CASE WHEN c.after_no_description THEN NULL ELSE c.after_description END,
              content = c.after_content, hash = c.after_hash\(unescaped: version)
            FROM unnest(\(before.map(\.id.rawValue))::text[], \(before.map(\.hash.hex))::text[],
                        \(before.map(\.title.bytes))::bytea[], \(descriptions(before.map(\.description)))::bytea[],
                        \(before.map { $0.description == nil })::bool[],
                        \(after.map(\.title.bytes))::bytea[], \(after.map(\.title.titleKey.bytes))::bytea[],
                        \(descriptions(after.map(\.description)))::bytea[], \(after.map { $0.description == nil })::bool[],
                        \(after.map(\.content.bytes))::bytea[], \(after.map(\.hash.hex))::text[])
              AS c(id, hash, title, description, no_description, after_title, after_title_key, after_description,
                   after_no_description, after_content, after_hash)
            WHERE d.id = c.id AND d.hash = c.hash AND d.title = c.title
              AND d.description IS NOT DISTINCT FROM (CASE WHEN c.no_description THEN NULL ELSE c.description END)
            RETURNING d.id
            """
    }

    /// The unchanged documents still stored as read, locked until the commit.
    static func lockUnchanged(_ kind: DocumentKind, _ documents: [MigrationDocument]) -> PostgresQuery {
        """
        SELECT d.id FROM \(unescaped: kind.table) AS d
          JOIN unnest(\(documents.map(\.id.rawValue))::text[], \(documents.map(\.hash.hex))::text[],
                      \(documents.map(\.title.bytes))::bytea[], \(descriptions(documents.map(\.description)))::bytea[],
                      \(documents.map { $0.description == nil })::bool[])
            AS c(id, hash, title, description, no_description)
            ON d.id = c.id AND d.hash = c.hash AND d.title = c.title
              AND d.description IS NOT DISTINCT FROM (CASE WHEN c.no_description THEN NULL ELSE c.description END)
        FOR UPDATE OF d
        """
    }

    /// The visit logs of changed snapshots carry the snapshot's new metadata.
    static func updateVisitLogs(_ changes: [MigrationChange]) -> PostgresQuery {
        let after = changes.map(\.after)
        return """
            UPDATE access_logs AS l SET snapshot_title = c.title, snapshot_title_key = c.title_key,
              snapshot_description = CASE WHEN c.no_description THEN NULL ELSE c.description END, snapshot_hash = c.hash
            FROM unnest(\(after.map(\.id.rawValue))::text[], \(after.map(\.title.bytes))::bytea[],
                        \(after.map(\.title.titleKey.bytes))::bytea[], \(descriptions(after.map(\.description)))::bytea[],
                        \(after.map { $0.description == nil })::bool[], \(after.map(\.hash.hex))::text[])
              AS c(id, title, title_key, description, no_description, hash)
            WHERE l.snapshot_id = c.id
            """
    }

    static func insertBackups(_ backups: [MigrationBackup], migration: String) -> PostgresQuery {
        """
        INSERT INTO migration_backups (migration, kind, id, title, description, hash, patch_prefix,
          patch_suffix, patch_middle, after_title, after_description, after_hash)
        SELECT \(migration), c.kind, c.id, c.title, CASE WHEN c.no_description THEN NULL ELSE c.description END,
          c.hash, c.patch_prefix, c.patch_suffix, c.patch_middle, c.after_title,
          CASE WHEN c.after_no_description THEN NULL ELSE c.after_description END, c.after_hash
        FROM unnest(\(backups.map(\.kind.rawValue))::text[], \(backups.map(\.id.rawValue))::text[],
                    \(backups.map(\.title.bytes))::bytea[], \(descriptions(backups.map(\.description)))::bytea[],
                    \(backups.map { $0.description == nil })::bool[], \(backups.map(\.hash.hex))::text[],
                    \(backups.map { Int64($0.patch.prefixLength) })::int8[], \(backups.map { Int64($0.patch.suffixLength) })::int8[],
                    \(backups.map { ByteBuffer(bytes: $0.patch.middle) })::bytea[], \(backups.map(\.afterTitle.bytes))::bytea[],
                    \(descriptions(backups.map(\.afterDescription)))::bytea[],
                    \(backups.map { $0.afterDescription == nil })::bool[], \(backups.map(\.afterHash.hex))::text[])
          AS c(kind, id, title, description, no_description, hash, patch_prefix, patch_suffix, patch_middle,
               after_title, after_description, after_no_description, after_hash)
        """
    }

    /// Descriptions as array elements: an array bind cannot hold a NULL
    /// here, so a missing description is empty bytes plus a `no_description` flag.
    private static func descriptions(_ values: [String?]) -> [DocumentBytes] {
        values.map { ($0 ?? "").bytes }
    }
}

extension DocumentBytes: PostgresArrayEncodable {
    static var psqlArrayType: PostgresDataType { .byteaArray }
}
