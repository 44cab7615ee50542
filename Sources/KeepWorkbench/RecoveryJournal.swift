import Foundation
import KeepCore
import Synchronization

/// One unsaved working copy as the recovery journal keeps it: enough to
/// rebuild the copy exactly, including the base it started from (so that a
/// recovered copy still detects, and can merge, what changed in the store).
public struct RecoveryEntry: Sendable, Equatable {
    public var copyID: String
    /// The database file the copy belongs to (absolute path).
    public var database: String
    public var user: UserID
    /// Nil for a copy of a new session that was never saved.
    public var sessionID: String?
    public var title: String
    public var description: String?
    public var content: String
    public var base: Base?
    /// When the copy was last edited (ms since the epoch; the editing machine's clock, shown only).
    public var modifiedAt: Int64
    /// The process that wrote the entry.
    public var processID: Int32

    /// The stored version the copy is based on.
    public struct Base: Sendable, Equatable {
        public var version: Int64
        public var hash: ContentHash
        public var title: String
        public var description: String?
        public var content: String

        public init(version: Int64, hash: ContentHash, title: String, description: String?, content: String) {
            self.version = version
            self.hash = hash
            self.title = title
            self.description = description
            self.content = content
        }
    }

    public init(copyID: String, database: String, user: UserID, sessionID: String?, title: String, description: String?,
                content: String, base: Base?, modifiedAt: Int64, processID: Int32) {
        self.copyID = copyID
        self.database = database
        self.user = user
        self.sessionID = sessionID
        self.title = title
        self.description = description
        self.content = content
        self.base = base
        self.modifiedAt = modifiedAt
        self.processID = processID
    }
}

/// The local recovery journal (SPEC §5): one file per unsaved working copy,
/// separate from the shared store, so work survives a crash of the process
/// and is never written to the store unasked. Any number of copies, of any
/// number of databases and users, can wait in it.
///
/// Files are written to a temporary name, flushed and renamed, so a crash
/// leaves either the previous entry or the new one, never half of one. The
/// folder is private to the OS user (0700, files 0600).
public final class RecoveryJournal: Sendable {
    /// `<root>/<first 16 hex digits of SHA-256 of the database path>`.
    public let directory: String
    public let database: String
    /// Lock files this process holds (by copy id).
    private let held = Mutex<[String: Int32]>([:])

    public init(root: String, database: String) {
        self.database = database
        directory = root + "/" + String(ContentHash(of: database).hex.prefix(16))
    }

    deinit {
        held.withLock { for descriptor in $0.values { close(descriptor) } }
    }

    /// `$XDG_STATE_HOME/keep/recovery`, else `~/.local/state/keep/recovery`.
    public static func defaultRoot(environment: [String: String]) -> String {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/keep/recovery" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/keep/recovery"
    }

    /// Writes (or replaces) the entry of `entry.copyID` durably.
    public func write(_ entry: RecoveryEntry) throws(KeepError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw KeepError(.internal, "recovery journal: cannot create \(directory): \(error.localizedDescription)")
        }
        let path = self.path(of: entry.copyID)
        // Per process: two writers never share a temporary file.
        let temporary = path + ".\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("cannot create \(temporary)") }
        var parts = EntryFile.encode(entry)
        var written = true
        for index in parts.indices where written {
            written = parts[index].withUTF8 { Self.writeAll(descriptor, $0) }
        }
        let synced = written && fsync(descriptor) == 0
        close(descriptor)
        guard synced else {
            let error = failure("cannot write \(temporary)")
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = failure("cannot rename \(temporary) to \(path)")
            unlink(temporary)
            throw error
        }
        // The rename itself must survive a power loss before anything relies on it.
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += count
        }
        return true
    }

    /// Takes the open-copy lock of `copyID` (`<copy_id>.lock`, an flock the
    /// kernel drops when the process ends, however it ends): while a process
    /// has a copy open, others see its entry as open there, not abandoned.
    public func hold(copyID: String) {
        guard heldLock(copyID) == nil else { return }
        let descriptor = open(lockPath(of: copyID), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            return
        }
        held.withLock { $0[copyID] = descriptor }
    }

    /// Drops the open-copy lock (the copy was closed; its entry may stay).
    public func release(copyID: String) {
        if let descriptor = held.withLock({ $0.removeValue(forKey: copyID) }) { close(descriptor) }
    }

    /// Whether another process has the copy open (holds its lock).
    public func isOpenElsewhere(copyID: String) -> Bool {
        if heldLock(copyID) != nil { return false }
        let descriptor = open(lockPath(of: copyID), O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return errno == EWOULDBLOCK }
        flock(descriptor, LOCK_UN)
        return false
    }

    private func heldLock(_ copyID: String) -> Int32? { held.withLock { $0[copyID] } }

    /// Removes the entry and its lock.
    public func remove(copyID: String) {
        release(copyID: copyID)
        unlink(path(of: copyID))
        unlink(lockPath(of: copyID))
    }

    public func entry(copyID: String) -> RecoveryEntry? {
        guard let data = FileManager.default.contents(atPath: path(of: copyID)) else { return nil }
        return EntryFile.decode(data)
    }

    /// The entries of `user` for this database, most recently edited first.
    /// A file that does not decode (not ours, or damaged) is skipped.
    public func entries(user: UserID) -> [RecoveryEntry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        removeAbandonedTemporaries(names)
        return names.filter { $0.hasSuffix(".entry") }
            .compactMap { entry(copyID: String($0.dropLast(6))) }
            .filter { $0.user == user && $0.database == database }
            .sorted { ($0.modifiedAt, $0.copyID) > ($1.modifiedAt, $1.copyID) }
    }

    private func path(of copyID: String) -> String { directory + "/" + copyID + ".entry" }
    private func lockPath(of copyID: String) -> String { directory + "/" + copyID + ".lock" }

    /// Temporary files of writers killed mid-write (`<copy_id>.entry.<pid>.tmp`).
    private func removeAbandonedTemporaries(_ names: [String]) {
        for name in names where name.hasSuffix(".tmp") {
            let parts = name.split(separator: ".")
            guard parts.count >= 4, let pid = Int32(parts[parts.count - 2]), pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(directory + "/" + name)
        }
    }

    private func failure(_ message: String) -> KeepError {
        KeepError(.internal, "recovery journal: \(message): \(String(cString: strerror(errno)))")
    }
}

/// The layout of an entry file: a line naming the format, a line of JSON with
/// everything but the two contents (and their lengths in bytes), then the
/// content and the base's content as they are. So a 1.5 MiB copy is written
/// without escaping it into a JSON string, and read back byte for byte.
enum EntryFile {
    static let magic = "keep-recovery 1\n"

    struct Header: Codable {
        var copy_id: String
        var database: String
        var user: String
        var session_id: String?
        var title: String
        var description: String?
        var modified_at: Int64
        var pid: Int32
        var content_bytes: Int
        var base: BaseHeader?
    }

    struct BaseHeader: Codable {
        var version: Int64
        var hash: String
        var title: String
        var description: String?
        var content_bytes: Int
    }

    /// The file's parts, in order.
    static func encode(_ entry: RecoveryEntry) -> [String] {
        let header = Header(copy_id: entry.copyID, database: entry.database, user: entry.user, session_id: entry.sessionID,
                            title: entry.title, description: entry.description, modified_at: entry.modifiedAt,
                            pid: entry.processID, content_bytes: entry.content.utf8.count,
                            base: entry.base.map {
                                BaseHeader(version: $0.version, hash: $0.hash.hex, title: $0.title, description: $0.description,
                                           content_bytes: $0.content.utf8.count)
                            })
        // JSONEncoder never writes a raw line break, so the header is one line.
        let json = (try? JSONEncoder().encode(header)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return [magic + json + "\n", entry.content, entry.base?.content ?? ""]
    }

    /// The entry, or nil for a file that is not one (damaged, cut short, another format).
    static func decode(_ data: Data) -> RecoveryEntry? {
        let bytes = [UInt8](data)
        let magicBytes = Array(magic.utf8)
        guard bytes.starts(with: magicBytes),
              let end = bytes[magicBytes.count...].firstIndex(of: UInt8(ascii: "\n")),
              let header = try? JSONDecoder().decode(Header.self, from: Data(bytes[magicBytes.count ..< end]))
        else { return nil }
        let contentStart = end + 1
        let baseBytes = header.base?.content_bytes ?? 0
        // Lengths from a damaged header must not overflow the arithmetic below.
        guard header.content_bytes >= 0, baseBytes >= 0, header.content_bytes <= bytes.count - contentStart,
              baseBytes == bytes.count - contentStart - header.content_bytes else { return nil }
        let baseStart = contentStart + header.content_bytes
        guard let content = String(validating: bytes[contentStart ..< baseStart], as: UTF8.self),
              let baseContent = String(validating: bytes[baseStart...], as: UTF8.self)
        else { return nil }
        return RecoveryEntry(copyID: header.copy_id, database: header.database, user: header.user,
                             sessionID: header.session_id, title: header.title, description: header.description,
                             content: content,
                             base: header.base.map {
                                 RecoveryEntry.Base(version: $0.version, hash: ContentHash(storedHex: $0.hash),
                                                    title: $0.title,
                                                    description: $0.description, content: baseContent)
                             },
                             modifiedAt: header.modified_at, processID: header.pid)
    }
}
