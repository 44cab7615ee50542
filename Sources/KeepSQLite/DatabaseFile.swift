#if canImport(Glibc)
import Glibc
#endif
import KeepCore

/// Where a database lives, checked before SQLite opens it, so that a wrong
/// path gets a message about the path (SQLite only says "unable to open
/// database file") and a file nobody may write is opened read-only.
public struct DatabaseFile: Sendable {
    public let path: String
    /// The folder that holds the file ("." for a bare file name).
    public let folder: String
    /// The file exists and is not empty (an empty file is set up like a new one).
    public let exists: Bool
    /// Why the database cannot be written (nil when it can): the file, or the
    /// folder that must hold its write-ahead log, has no write permission.
    public let readOnlyReason: String?

    /// Checks `path`; throws `invalid` when it cannot name a database file.
    public init(path: String) throws(KeepError) {
        guard !path.isEmpty else {
            throw KeepError(.invalid, "the database path is empty; name a file, e.g. --db keep.sqlite")
        }
        self.path = path
        let slash = path.lastIndex(of: "/")
        folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        var folderStatus = stat()
        guard stat(folder, &folderStatus) == 0 else {
            throw KeepError(.invalid, "the folder \(folder) does not exist; create it first, or name a database file in an existing folder",
                            details: ["path": .text(path)])
        }
        guard folderStatus.st_mode & S_IFMT == S_IFDIR else {
            throw KeepError(.invalid, "\(folder) is not a folder, so it cannot hold the database \(path)", details: ["path": .text(path)])
        }
        var fileStatus = stat()
        let found = stat(path, &fileStatus) == 0
        if found, fileStatus.st_mode & S_IFMT == S_IFDIR {
            throw KeepError(.invalid, "\(path) is a folder; the database is a file: name one inside it, e.g. \(path.hasSuffix("/") ? path : path + "/")keep.sqlite",
                            details: ["path": .text(path)])
        }
        if found, fileStatus.st_mode & S_IFMT != S_IFREG {
            throw KeepError(.invalid, "\(path) is not a regular file, so it cannot be a database", details: ["path": .text(path)])
        }
        exists = found && fileStatus.st_size > 0
        if found, !Self.writable(path, fileStatus) {
            readOnlyReason = "the file \(path) has no write permission"
        } else if !Self.writable(folder, folderStatus) {
            readOnlyReason = "its folder \(folder) has no write permission (SQLite keeps its write-ahead log there)"
        } else {
            readOnlyReason = nil
        }
    }

    /// Writable for this process, and marked writable for someone: root may
    /// write anything, but a file or folder with no write bit at all (chmod
    /// a-w) is taken as a request to leave it alone, as `rm` asks first.
    private static func writable(_ path: String, _ status: stat) -> Bool {
        access(path, W_OK) == 0 && status.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH) != 0
    }
}
