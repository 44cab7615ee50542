import Foundation
import KeepCore
import KeepStore
import PostgresNIO

/// Raw access for `keep db copy`. Values cross as `TransferValue`s in the
/// logical schema's terms, whatever PostgreSQL stores: document text kept
/// as `bytea` is read as text, booleans as 0 or 1, so that a copy from or to
/// SQLite digests alike on both sides.
extension PostgresBackend: TransferStorage {
    public func transferRows(_ table: TransferTable, after: [TransferValue]?, limit: Int) async throws -> [[TransferValue]] {
        var bindings = PostgresBindings()
        let keys = table.key.joined(separator: ", ")
        var filter = ""
        if let after {
            let placeholders = try after.map { value in
                try Self.bind(value, as: nil, into: &bindings, table: table)
                return "$\(bindings.count)"
            }
            filter = " WHERE (\(keys)) > (\(placeholders.joined(separator: ", ")))"
        }
        let sql = "SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name)\(filter) ORDER BY \(keys) LIMIT \(max(1, limit))"
        return try await rows("read \(table.name) to copy", PostgresQuery(unsafeSQL: sql, binds: bindings)).map { row in
            try row.makeRandomAccess().enumerated().map { index, cell in
                try Self.transferValue(cell, bytes: table.bytes.contains(table.columns[index]), table: table)
            }
        }
    }

    public func transferCount(_ table: TransferTable) async throws -> Int64 {
        let found = try await rows("count \(table.name)", PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table.name)"))
        return try found.first?.decode(Int64.self) ?? 0
    }

    public func transferInsert(_ table: TransferTable, rows: [[TransferValue]], progress: TransferProgress) async throws {
        let marker = try JSONEncoder().encode(progress)
        let conflict = table.columns.filter { !table.key.contains($0) }.map { "\($0) = EXCLUDED.\($0)" }
        let update = conflict.isEmpty ? "NOTHING" : "UPDATE SET " + conflict.joined(separator: ", ")
        // Jobs keep their ids: the identity column takes them as given.
        let overriding = table == .jobs ? " OVERRIDING SYSTEM VALUE" : ""
        try await transaction("copy \(table.name)") { connection in
            let types = try await Self.columnTypes(table, connection)
            for row in rows {
                var bindings = PostgresBindings()
                for (column, value) in zip(table.columns, row) {
                    try Self.bind(value, as: types[column], into: &bindings, table: table)
                }
                let sql = "INSERT INTO \(table.name) (\(table.columns.joined(separator: ", ")))\(overriding) VALUES ("
                    + (1 ... table.columns.count).map { "$\($0)" }.joined(separator: ", ")
                    + ") ON CONFLICT ON CONSTRAINT \(table.name)_pkey DO \(update)"
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: Self.logger)
            }
            try await connection.query("""
                INSERT INTO keep_meta (key, value) VALUES (\(DatabaseCopier.progressKey), \(ByteBuffer(bytes: marker)))
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
                """, logger: Self.logger)
        }
    }

    public func transferProgress() async throws -> TransferProgress? {
        let found = try await rows("read the copy's progress",
                                   "SELECT value FROM keep_meta WHERE key = \(DatabaseCopier.progressKey)")
        guard let row = found.first else { return nil }
        do {
            return try JSONDecoder().decode(TransferProgress.self, from: Data(try row.decode(ByteBuffer.self).readableBytesView))
        } catch {
            throw KeepError(.invalid, "the database holds a copy's progress that this keep cannot read (\(error)); copy into an empty database")
        }
    }

    /// Forgets the progress, moves the jobs id sequence past the copied ids
    /// (inserting ids by hand does not move it), and takes the copied
    /// page-token secret.
    public func transferFinish() async throws {
        let secret = try await transaction("finish the copy") { connection in
            try await connection.query("DELETE FROM keep_meta WHERE key = \(DatabaseCopier.progressKey)", logger: Self.logger)
            try await connection.query("""
                SELECT setval(pg_get_serial_sequence('jobs', 'id'), coalesce(max(id), 0) + 1, false) FROM jobs
                """, logger: Self.logger)
            let rows = try await connection.query("SELECT value FROM keep_meta WHERE key = 'page_token_secret'",
                                                  logger: Self.logger).collect()
            return try rows.first.map { Array(try $0.decode(ByteBuffer.self).readableBytesView) }
        }
        if let secret { pageTokenSecret.withLock { $0 = secret } }
    }

    /// Each column's PostgreSQL type name (`information_schema`'s `data_type`).
    static func columnTypes(_ table: TransferTable, _ connection: PostgresConnection) async throws -> [String: String] {
        let rows = try await connection.query("""
            SELECT column_name, data_type FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = \(table.name)
            """, logger: logger).collect()
        var types: [String: String] = [:]
        for row in rows {
            let (column, type) = try row.decode((String, String).self)
            types[column] = type
        }
        return types
    }

    /// Binds `value` for a column of `type` (nil: as the value's own type).
    static func bind(_ value: TransferValue, as type: String?, into bindings: inout PostgresBindings,
                     table: TransferTable) throws {
        switch (value, type) {
        case (.null, _): bindings.appendNull()
        case (.integer(let number), "boolean"): bindings.append(number != 0)
        case (.integer(let number), _): bindings.append(number)
        case (.text(let text), "bytea"): bindings.append(text.bytes)
        case (.text(let text), _): bindings.append(text)
        case (.bytes(let bytes), "bytea"), (.bytes(let bytes), nil): bindings.append(ByteBuffer(bytes: bytes))
        case (.bytes, let type?):
            throw KeepError(.invalid, "\(table.name) has a \(type) column where the source holds bytes; the source's schema is not Keep's")
        }
    }

    static func transferValue(_ cell: PostgresCell, bytes: Bool, table: TransferTable) throws -> TransferValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .text, .varchar: return .text(try cell.decode(String.self))
        case .bytea:
            let buffer = try cell.decode(ByteBuffer.self)
            if bytes { return .bytes(Array(buffer.readableBytesView)) }
            guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
                throw KeepError(.invalid, "\(table.name).\(cell.columnName) holds bytes that are not UTF-8 text; the database was changed outside Keep")
            }
            return .text(text)
        default:
            throw KeepError(.internal, "\(table.name).\(cell.columnName) has type \(cell.dataType), which Keep's schema does not use; the database was changed outside Keep")
        }
    }
}
