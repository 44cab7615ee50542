import Foundation
import KeepCore
import KeepLua

/// A migration file on disk, `NNNN_name.lua` (SPEC §7): its number is its id
/// in the ledger, and its SHA-256 tells whether it changed since it ran.
public struct MigrationFile: Sendable, Equatable {
    /// The number as written, at least four digits ("0001").
    public var id: String
    /// The part after the number ("rename_module").
    public var name: String
    public var path: String
    public var source: [UInt8]
    /// SHA-256 of the file, lowercase hex.
    public var checksum: String

    /// `0001_rename_module.lua`
    public var fileName: String { "\(id)_\(name).lua" }

    /// The numeric value of the id, for ordering and for `--to 12`.
    public var number: Int { Int(id) ?? 0 }

    /// Splits a file name into number and name; nil when it does not start
    /// with a digit (helper modules for `require` live beside migrations).
    /// Throws when it starts with a digit but is not `NNNN_name.lua`.
    static func parse(fileName: String) throws(KeepError) -> (id: String, name: String)? {
        guard let first = fileName.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return nil }
        let bytes = Array(fileName.utf8)
        let digits = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        let rest = bytes.dropFirst(digits.count)
        let suffix = Array(".lua".utf8)
        guard digits.count >= 4, digits.count <= 9, rest.first == UInt8(ascii: "_"), rest.count > 1 + suffix.count,
              Array(rest.suffix(suffix.count)) == suffix else {
            throw KeepError(.invalid, "\(fileName): a migration file is named NNNN_name.lua (four to nine digits, "
                + "an underscore, a name, .lua), e.g. 0001_rename_module.lua")
        }
        let name = rest.dropFirst().dropLast(suffix.count)
        guard name.allSatisfy(isNameByte) else {
            throw KeepError(.invalid, "\(fileName): a migration's name may use lowercase letters, digits and '_' only")
        }
        return (String(decoding: digits, as: UTF8.self), String(decoding: name, as: UTF8.self))
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "_")
    }
}

/// A folder of migration files.
public struct MigrationDirectory: Sendable {
    public let path: String
    /// In numeric order; numbers are unique.
    public let files: [MigrationFile]

    /// Reads every migration of `path`. A missing folder is an error that
    /// says how to make one; so are badly named files and duplicate numbers.
    public init(path: String) throws(KeepError) {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw KeepError(.notFound, "there is no migration folder \(path); create one with `keep migrate new NAME` "
                + "or name another with --dir")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw KeepError(.unavailable, "cannot list \(path): \(error.localizedDescription)")
        }
        var files: [MigrationFile] = []
        for fileName in names.sorted() {
            guard let (id, name) = try MigrationFile.parse(fileName: fileName) else { continue }
            let filePath = path + "/" + fileName
            let source = try LuaFiles.read(filePath)
            files.append(MigrationFile(id: id, name: name, path: filePath, source: source,
                                       checksum: ContentHash(of: source).hex))
        }
        files.sort { ($0.number, $0.id) < ($1.number, $1.id) }
        for (previous, next) in zip(files, files.dropFirst()) where previous.number == next.number {
            throw KeepError(.invalid, "\(previous.fileName) and \(next.fileName) have the same number; "
                + "every migration needs its own")
        }
        self.files = files
    }

    /// The file a user means by `ref`: its id ("0003" or "3") or its file name with or without ".lua".
    public func file(_ ref: String) -> MigrationFile? {
        files.first { Self.matches($0.id, $0.fileName, ref) }
    }

    /// Whether `ref` names the migration with this id and file name.
    public static func matches(_ id: String, _ fileName: String, _ ref: String) -> Bool {
        if let number = Int(ref), number == Int(id) { return true }
        return ref == fileName || ref + ".lua" == fileName
    }

    /// Writes a new migration file numbered after the last one; returns its path.
    public static func scaffold(name rawName: String, in path: String) throws(KeepError) -> String {
        let name = String(rawName.lowercased().map { $0 == "-" || $0 == " " ? "_" : $0 })
        guard !name.isEmpty, name.utf8.allSatisfy(MigrationFile.isNameByte) else {
            throw KeepError(.invalid, "'\(rawName)' cannot name a migration; use letters, digits, '_' or '-' "
                + "(e.g. rename_well_logs)")
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw KeepError(.unavailable, "cannot create \(path): \(error.localizedDescription)")
        }
        let existing = try MigrationDirectory(path: path).files
        let number = (existing.last?.number ?? 0) + 1
        let id = String(repeating: "0", count: max(0, 4 - String(number).count)) + String(number)
        let file = "\(path)/\(id)_\(name).lua"
        let template = """
            -- \(id)_\(name): describe what changes and why.
            -- Runs in the sandbox: doc.data is the decoded content (change it in place or
            -- replace it); doc.title and doc.description may change too. Documents whose
            -- canonical content, title and description stay the same are not written.
            -- error("…") fails this document (see --on-error). Test it with
            -- `keep migrate plan` before `keep migrate up`.
            return {
              description = "\(name.replacingOccurrences(of: "_", with: " "))",
              target = "sessions", -- "sessions" | "snapshots" | "all"
              up = function(doc)
                -- e.g. doc.data.settings = doc.data.settings or {}
              end,
            }

            """
        guard FileManager.default.createFile(atPath: file, contents: Data(template.utf8)) else {
            throw KeepError(.unavailable, "cannot write \(file)")
        }
        return file
    }
}
