import Crypto
import KeepCore

/// `keep db copy`: every table of one database into another, on any two
/// backends, exactly (ids, hashes, versions, times, the page-token secret),
/// in batches that each commit with the copy's progress, so that a killed
/// copy resumes after its last batch; then counts and digests every table
/// on both sides.
public struct DatabaseCopier: Sendable {
    public let source: any TransferStorage
    public let target: any TransferStorage
    public let batchSize: Int

    /// Rows copied so far, of all tables, and how many there are.
    public struct Progress: Sendable {
        public var table: String
        public var copied: Int64
        public var total: Int64
        /// The last report: every table is copied (verification follows).
        public var finished = false
    }

    /// One table as both sides hold it after the copy.
    public struct TableCheck: Sendable {
        public var table: String
        public var rows: Int64
        /// SHA-256 over the rows in key order, lowercase hex.
        public var digest: String
    }

    public struct Report: Sendable {
        /// The copy continued an interrupted one.
        public var resumed: Bool
        /// Rows this run wrote.
        public var copied: Int64
        public var tables: [TableCheck]
    }

    public init(source: any TransferStorage, target: any TransferStorage, batchSize: Int = 500) {
        self.source = source
        self.target = target
        self.batchSize = max(1, batchSize)
    }

    public func copy(progress: @Sendable (Progress) -> Void = { _ in }) async throws -> Report {
        let sourceID = try await Self.identity(of: source)
        if try await source.transferProgress() != nil {
            throw KeepError(.conflict, "the source holds an unfinished copy into it; finish that copy (run it again) before copying from it")
        }
        let resumed = try await target.transferProgress()
        if let resumed, resumed.source != sourceID {
            throw KeepError(.conflict, "the target holds an unfinished copy from another database; resume that copy, or copy into an empty database")
        }
        if resumed == nil { try await requireEmpty(target) }

        var counts: [Int64] = []
        for table in TransferTable.all { counts.append(try await source.transferCount(table)) }
        let total = counts.reduce(0, +)
        var done: Int64 = 0
        var copied: Int64 = 0
        let start = resumed.flatMap { marker in TransferTable.all.firstIndex { $0.name == marker.table } } ?? 0
        for (index, table) in TransferTable.all.enumerated() {
            guard index >= start else {
                done += counts[index]
                continue
            }
            var after: [TransferValue]? = index == start ? resumed?.after?.map(\.value) : nil
            if let after { done += try await count(source, table, upTo: after) }
            progress(Progress(table: table.name, copied: done, total: total))
            while true {
                let page = try await source.transferRows(table, after: after, limit: batchSize)
                guard let last = page.last else { break }
                let rows = table == .meta ? page.filter { $0.first != .text(Self.progressKey) } : page
                let key = Array(last.prefix(table.key.count))
                try await target.transferInsert(table, rows: rows, progress: TransferProgress(
                    source: sourceID, table: table.name, after: try key.map(TransferKey.init)))
                after = key
                done += Int64(rows.count)
                copied += Int64(rows.count)
                progress(Progress(table: table.name, copied: done, total: total))
            }
        }
        try await target.transferFinish()
        progress(Progress(table: "all tables", copied: done, total: total, finished: true))
        return Report(resumed: resumed != nil, copied: copied, tables: try await verify())
    }

    /// Counts and digests every table on both sides; any difference fails the copy.
    public func verify() async throws -> [TableCheck] {
        var checks: [TableCheck] = []
        for table in TransferTable.all {
            let (from, to) = (try await check(source, table), try await check(target, table))
            guard from.rows == to.rows, from.digest == to.digest else {
                throw KeepError(.conflict, "the copy does not match its source: \(table.name) has \(from.rows) rows (digest \(from.digest.prefix(12))) in the source and \(to.rows) (digest \(to.digest.prefix(12))) in the target; was the source written during the copy? Copy again into an empty database")
            }
            checks.append(from)
        }
        return checks
    }

    /// The key in `keep_meta` under which a backend stores `TransferProgress`.
    public static let progressKey = "copy_progress"

    /// A database's identity: a digest of its page-token secret, which is
    /// random per database and copied with it.
    static func identity(of storage: any TransferStorage) async throws -> String {
        let meta = try await storage.transferRows(.meta, after: nil, limit: 1_000)
        guard let secret = meta.first(where: { $0.first == .text("page_token_secret") })?.last else {
            throw KeepError(.invalid, "the source has no page-token secret; open it once with this version of keep")
        }
        var hash = SHA256()
        hash.update(data: Digest.bytes(secret))
        return String(Digest.hex(hash.finalize()).prefix(32))
    }

    private func requireEmpty(_ storage: any TransferStorage) async throws {
        var held: [String] = []
        for table in TransferTable.all where table != .meta {
            let rows = try await storage.transferCount(table)
            if rows > 0 { held.append("\(rows) \(table.name)") }
        }
        guard held.isEmpty else {
            throw KeepError(.conflict, "the target is not empty (it holds \(held.joined(separator: ", "))); copy into an empty database")
        }
    }

    /// Rows of `table` up to and including `key` (for the progress of a resumed copy).
    private func count(_ storage: any TransferStorage, _ table: TransferTable, upTo key: [TransferValue]) async throws -> Int64 {
        var counted: Int64 = 0
        var after: [TransferValue]?
        while true {
            let page = try await storage.transferRows(table, after: after, limit: 5_000)
            guard let last = page.last else { break }
            let keys = page.map { Array($0.prefix(table.key.count)) }
            if let index = keys.firstIndex(of: key) { return counted + Int64(index + 1) }
            counted += Int64(page.count)
            after = Array(last.prefix(table.key.count))
        }
        return counted
    }

    private func check(_ storage: any TransferStorage, _ table: TransferTable) async throws -> TableCheck {
        var hash = SHA256()
        var rows: Int64 = 0
        var after: [TransferValue]?
        while true {
            let page = try await storage.transferRows(table, after: after, limit: 2_000)
            guard let last = page.last else { break }
            for row in page where !(table == .meta && row.first == .text(Self.progressKey)) {
                rows += 1
                for value in row { hash.update(data: Digest.bytes(value, tagged: true)) }
            }
            after = Array(last.prefix(table.key.count))
        }
        return TableCheck(table: table.name, rows: rows, digest: Digest.hex(hash.finalize()))
    }
}

/// How values are fed to a digest: a type tag and a length before the bytes,
/// so that no two different rows digest alike.
private enum Digest {
    static func bytes(_ value: TransferValue, tagged: Bool = false) -> [UInt8] {
        func framed(_ tag: UInt8, _ payload: [UInt8]) -> [UInt8] {
            guard tagged else { return payload }
            return [tag] + withUnsafeBytes(of: UInt64(payload.count).bigEndian, Array.init) + payload
        }
        switch value {
        case .null: return framed(0, [])
        case .integer(let number): return framed(1, withUnsafeBytes(of: number.bigEndian, Array.init))
        case .text(let text): return framed(2, Array(text.utf8))
        case .bytes(let bytes): return framed(3, bytes)
        }
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

extension TransferKey {
    init(_ value: TransferValue) throws {
        switch value {
        case .integer(let number): self = .integer(number)
        case .text(let text): self = .text(text)
        case .null, .bytes: throw KeepError(.internal, "a key column holds a value that is neither text nor an integer")
        }
    }

    var value: TransferValue {
        switch self {
        case .integer(let number): .integer(number)
        case .text(let text): .text(text)
        }
    }
}
