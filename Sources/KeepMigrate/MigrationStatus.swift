import KeepCore

/// The migration folder set against the ledger: what ran, what is pending,
/// and what blocks `up` (a changed file, a number below one that ran, an
/// unfinished rollback).
public struct MigrationStatus: Sendable {
    public struct Entry: Sendable {
        public enum State: String, Sendable {
            case pending, running, failed, applied
            case rollingBack = "rolling_back"
            case rolledBack = "rolled_back"
        }

        public var id: String
        public var name: String
        public var file: MigrationFile?
        public var record: MigrationRecord?
        /// A file in the folder with this entry's number that is not the
        /// migration that ran under it (another name and another checksum):
        /// `up` refuses to run until one of the two is renumbered or the
        /// folder is the right one.
        public var otherFile: MigrationFile?

        public var state: State {
            guard let record else { return .pending }
            return switch record.state {
            case .running: .running
            case .failed: .failed
            case .applied: .applied
            case .rollingBack: .rollingBack
            case .rolledBack: .rolledBack
            }
        }

        /// Ran (wholly or in part) with a file whose checksum differs from the file now.
        public var fileChanged: Bool {
            guard let file, let record, record.state != .rolledBack else { return false }
            return file.checksum != record.checksum
        }

        /// In the ledger, but its file is gone.
        public var fileMissing: Bool { file == nil && otherFile == nil }

        /// What `up` would run: never ran, ran in part, or rolled back.
        public var isPending: Bool { file != nil && [.pending, .running, .failed, .rolledBack].contains(state) }

        /// Its changes are (at least partly) in the store.
        public var isInPlace: Bool { [.running, .failed, .applied, .rollingBack].contains(state) }

        public var fileName: String { file?.fileName ?? "\(id)_\(name).lua" }
    }

    /// By number: files and ledger rows together.
    public let entries: [Entry]

    public init(directory: MigrationDirectory, ledger: [MigrationRecord]) {
        var entries = directory.files.map { Entry(id: $0.id, name: $0.name, file: $0, record: nil) }
        for record in ledger {
            if let index = entries.firstIndex(where: { Int($0.id) == Int(record.id) }) {
                let file = entries[index].file!
                // Matched by number and name; a renamed file with the same content is the same migration.
                if file.name == record.name || file.checksum == record.checksum {
                    entries[index].record = record
                } else {
                    entries[index] = Entry(id: record.id, name: record.name, file: nil, record: record, otherFile: file)
                }
            } else {
                entries.append(Entry(id: record.id, name: record.name, file: nil, record: record))
            }
        }
        self.entries = entries.sorted { (Int($0.id) ?? 0, $0.id) < (Int($1.id) ?? 0, $1.id) }
    }

    public func entry(_ ref: String) -> Entry? {
        entries.first { MigrationDirectory.matches($0.id, $0.fileName, ref) }
    }

    /// The migrations `up` would run, in order, through `through` when given.
    /// Throws what blocks `up`, with what to do about it.
    public func pending(through: String?, accepting accepted: Set<String>) throws(KeepError) -> [Entry] {
        if let unfinished = entries.first(where: { $0.state == .rollingBack }) {
            throw KeepError(.conflict, "the rollback of \(unfinished.fileName) did not finish; finish it with "
                + "`keep migrate rollback \(unfinished.id)` before running migrations")
        }
        let mismatched = entries.filter { $0.otherFile != nil }
        if !mismatched.isEmpty {
            let lines = mismatched.map { entry in
                "  \(entry.otherFile!.fileName) has the number of \(entry.fileName), which ran here "
                    + "(\(entry.state.rawValue.replacingOccurrences(of: "_", with: " ")), checksum \(entry.record!.checksum.prefix(12))…)"
            }
            throw KeepError(.conflict, "the folder has files that are not the migrations that ran under their numbers:\n"
                + lines.joined(separator: "\n")
                + "\nRun with the folder those migrations came from (--dir), or renumber the new files above the "
                + "highest that ran")
        }
        let changed = entries.filter { $0.fileChanged && !accepted.contains($0.id) }
        if !changed.isEmpty {
            let lines = changed.map { entry in
                "  \(entry.fileName): checksum \(entry.record!.checksum.prefix(12))… when it ran, "
                    + "\(entry.file!.checksum.prefix(12))… now"
            }
            let ids = changed.map { "--accept-changed \($0.id)" }.joined(separator: " ")
            throw KeepError(.conflict, "migrations changed after they ran:\n" + lines.joined(separator: "\n")
                + "\nPut the files back as they were, or acknowledge the change with `keep migrate up \(ids)` "
                + "(applied migrations are not run again)")
        }
        var stop: Int?
        if let through {
            guard let target = entry(through) else {
                throw KeepError(.notFound, "--to \(through): no migration has that number or name; "
                    + "see `keep migrate status`")
            }
            stop = Int(target.id)
        }
        let highestInPlace = entries.filter(\.isInPlace).compactMap { Int($0.id) }.max()
        var pending: [Entry] = []
        for entry in entries where entry.isPending {
            let number = Int(entry.id) ?? 0
            if let stop, number > stop { break }
            if entry.state == .pending, let highestInPlace, number < highestInPlace {
                let later = entries.first { Int($0.id) == highestInPlace }!
                throw KeepError(.conflict, "\(entry.fileName) is numbered below \(later.fileName), which has already run; "
                    + "migrations run in number order, so renumber it above \(later.id)")
            }
            pending.append(entry)
        }
        return pending
    }

    /// Whether `entry` may be rolled back: it kept backups, and no later
    /// migration over the same documents is in place. Throws why not.
    public func checkRollback(_ entry: Entry) throws(KeepError) {
        guard let record = entry.record, entry.isInPlace else {
            throw KeepError(.invalid, "\(entry.fileName) is \(entry.state.rawValue.replacingOccurrences(of: "_", with: " ")); "
                + "only a migration that ran can be rolled back")
        }
        guard record.keepsBackup else {
            throw KeepError(.invalid, "\(entry.fileName) ran with --no-backup, so the previous content was not kept "
                + "and it cannot be rolled back; write a new migration that undoes it")
        }
        let kinds = Set(record.target.kinds)
        let later = entries.filter { other in
            guard let otherRecord = other.record, other.isInPlace, (Int(other.id) ?? 0) > (Int(entry.id) ?? 0) else {
                return false
            }
            return !kinds.isDisjoint(with: otherRecord.target.kinds)
        }
        if !later.isEmpty {
            let names = later.map { "\($0.fileName) (\($0.state.rawValue))" }.joined(separator: ", ")
            throw KeepError(.conflict, "\(entry.fileName) cannot be rolled back: later migrations over the same "
                + "documents build on it: \(names). Roll those back first, newest first")
        }
    }
}
