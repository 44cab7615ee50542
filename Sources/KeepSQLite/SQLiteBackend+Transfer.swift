import Foundation
import GRDB
import KeepCore
import KeepStore

extension SQLiteBackend: TransferStorage {
    public func transferRows(_ table: TransferTable, after: [TransferValue]?, limit: Int) async throws -> [[TransferValue]] {
        let keys = table.key.joined(separator: ", ")
        let filter = after == nil ? "" : " WHERE (\(keys)) > (\(table.key.map { _ in "?" }.joined(separator: ", ")))"
        let sql = "SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name)\(filter) ORDER BY \(keys) LIMIT \(max(1, limit))"
        let arguments = StatementArguments((after ?? []).map(Self.databaseValue))
        return try await read("read \(table.name) to copy") { db in
            guard try Self.hasTable(db, table.name) else { return [] }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                try (0 ..< row.count).map { try Self.transferValue(row[$0] as DatabaseValue, table: table) }
            }
        }
    }

    public func transferCount(_ table: TransferTable) async throws -> Int64 {
        try await read("count \(table.name)") { db in
            guard try Self.hasTable(db, table.name) else { return 0 }
            return try Int64.fetchOne(db, sql: "SELECT count(*) FROM \(table.name)") ?? 0
        }
    }

    public func transferInsert(_ table: TransferTable, rows: [[TransferValue]], progress: TransferProgress) async throws {
        let sql = "INSERT OR REPLACE INTO \(table.name) (\(table.columns.joined(separator: ", "))) VALUES ("
            + table.columns.map { _ in "?" }.joined(separator: ", ") + ")"
        let marker = try JSONEncoder().encode(progress)
        try await write("copy \(table.name)") { db in
            let statement = try db.cachedStatement(sql: sql)
            for row in rows {
                try statement.execute(arguments: StatementArguments(row.map(Self.databaseValue)))
            }
            try db.execute(sql: "INSERT OR REPLACE INTO keep_meta (key, value) VALUES (?, ?)",
                           arguments: [DatabaseCopier.progressKey, marker])
        }
    }

    public func transferProgress() async throws -> TransferProgress? {
        let data = try await read("read the copy's progress") { db in
            try Data.fetchOne(db, sql: "SELECT value FROM keep_meta WHERE key = ?", arguments: [DatabaseCopier.progressKey])
        }
        guard let data else { return nil }
        do {
            return try JSONDecoder().decode(TransferProgress.self, from: data)
        } catch {
            throw KeepError(.invalid, "the database holds a copy's progress that this keep cannot read (\(error)); copy into an empty database")
        }
    }

    /// SQLite keeps the jobs id sequence itself (AUTOINCREMENT follows the
    /// largest id inserted); the copied page-token secret replaces this one.
    public func transferFinish() async throws {
        let secret = try await write("finish the copy") { db in
            try db.execute(sql: "DELETE FROM keep_meta WHERE key = ?", arguments: [DatabaseCopier.progressKey])
            return try Data.fetchOne(db, sql: "SELECT value FROM keep_meta WHERE key = 'page_token_secret'")
        }
        if let secret { pageTokenSecret.withLock { $0 = Array(secret) } }
    }

    static func databaseValue(_ value: TransferValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .integer(let number): number.databaseValue
        case .text(let text): text.databaseValue
        case .bytes(let bytes): Data(bytes).databaseValue
        }
    }

    static func transferValue(_ value: DatabaseValue, table: TransferTable) throws -> TransferValue {
        switch value.storage {
        case .null: return .null
        case .int64(let number): return .integer(number)
        case .string(let text): return .text(text)
        case .blob(let data): return .bytes(Array(data))
        case .double(let number):
            throw KeepError(.internal, "\(table.name) holds a floating-point value (\(number)) where Keep stores none; the database was changed outside Keep")
        }
    }
}
