import Foundation
import KeepCore

/// One unsaved working copy as the recovery journal keeps it: enough to
/// rebuild the copy exactly, including the base it started from (so that a
/// recovered copy still detects, and can merge, what changed in the store).
public struct RecoveryEntry: Sendable, Equatable, Codable {
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

    public struct Base: Sendable, Equatable, Codable {
        public var version: Int64
        public var hash: String
        public var title: String
        public var description: String?
        public var content: String

        public init(version: Int64, hash: String, title: String, description: String?, content: String) {
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

    enum CodingKeys: String, CodingKey {
        case copyID = "copy_id", database, user, sessionID = "session_id", title, description, content, base
        case modifiedAt = "modified_at", processID = "pid"
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
public final class RecoveryJournal: @unchecked Sendable {
    /// `<root>/<first 16 hex digits of SHA-256 of the database path>`.
    public let directory: String
    public let database: String

    public init(root: String, database: String) {
        self.database = database
        directory = root + "/" + String(ContentHash(of: database).hex.prefix(16))
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
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            let data = try encoder.encode(entry)
            let path = self.path(of: entry.copyID)
            // Per process: two writers never share a temporary file.
            let temporary = path + ".\(getpid()).tmp"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw failure("cannot create \(temporary)") }
            let written = data.withUnsafeBytes { bytes -> Bool in
                var offset = 0
                while offset < bytes.count {
                    let count = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if count < 0 { if errno == EINTR { continue }; return false }
                    offset += count
                }
                return true
            }
            let synced = fsync(descriptor) == 0
            close(descriptor)
            guard written, synced else {
                unlink(temporary)
                throw failure("cannot write \(temporary)")
            }
            guard rename(temporary, path) == 0 else {
                unlink(temporary)
                throw failure("cannot rename \(temporary) to \(path)")
            }
        } catch let error as KeepError {
            throw error
        } catch {
            throw KeepError(.internal, "recovery journal: \(error.localizedDescription)")
        }
    }

    /// Whether the process that wrote `entry` still runs (then the copy is
    /// probably open there, not abandoned). A reused process id can make a
    /// dead writer look alive; that only keeps an entry listed longer.
    public func isWriterRunning(_ entry: RecoveryEntry) -> Bool {
        guard entry.processID > 0, entry.processID != getpid() else { return false }
        return kill(entry.processID, 0) == 0 || errno == EPERM
    }

    public func remove(copyID: String) {
        unlink(path(of: copyID))
    }

    public func entry(copyID: String) -> RecoveryEntry? {
        guard let data = FileManager.default.contents(atPath: path(of: copyID)) else { return nil }
        return try? JSONDecoder().decode(RecoveryEntry.self, from: data)
    }

    /// The entries of `user` for this database, most recently edited first.
    /// A file that does not decode (not ours, or damaged) is skipped.
    public func entries(user: UserID) -> [RecoveryEntry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") }
            .compactMap { entry(copyID: String($0.dropLast(5))) }
            .filter { $0.user == user && $0.database == database }
            .sorted { ($0.modifiedAt, $0.copyID) > ($1.modifiedAt, $1.copyID) }
    }

    private func path(of copyID: String) -> String { directory + "/" + copyID + ".json" }

    private func failure(_ message: String) -> KeepError {
        KeepError(.internal, "recovery journal: \(message): \(String(cString: strerror(errno)))")
    }
}
