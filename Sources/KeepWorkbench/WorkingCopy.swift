import Foundation
import KeepCore
import KeepStore
import Synchronization

/// One open session as an editor holds it (SPEC §5): the content being
/// edited, the stored version it started from (its base), and what polling
/// last saw in the store.
///
/// Change tracking compares content with the base, never clocks: editing
/// back to the base leaves no changes, and a copy is out of sync only when
/// the store's version or hash differs from the base's. The state is
/// guarded by a mutex, so edits may arrive while a save is in flight (from a
/// timer, a hook or another task); the save lock lets one save run at a time.
public final class WorkingCopy: Sendable {
    /// Names the copy in the recovery journal.
    public let copyID: String
    /// The user the copy reads and saves as (the acting user when it was opened).
    public let owner: UserID
    private let guarded: Mutex<State>
    /// Weak: the workbench holds its copies.
    private let registered = Mutex(WeakWorkbench())

    private struct WeakWorkbench {
        weak var workbench: Workbench?
    }

    /// The workbench the copy is registered with (nil until then).
    var workbench: Workbench? {
        get { registered.withLock { $0.workbench } }
        set { registered.withLock { $0.workbench = newValue } }
    }

    /// The stored version a copy is based on, as the recovery journal keeps it too.
    typealias Base = RecoveryEntry.Base

    struct State {
        var sessionID: ResourceID?
        var title: String
        var description: String?
        var content: String
        var base: Base?
        var backendVersion: Int64?
        var backendHash: ContentHash?
        var backendDeleted = false
        var lastModified: Timestamp?
        var lastPersisted: Timestamp?
        /// Counts edits; a save compares it before and after to see edits made meanwhile.
        var edits: UInt64 = 0
        /// The edit count the journal holds (or knows needs no entry).
        var journaled: UInt64 = 0
        /// The first edit the journal does not hold yet (bounds the debounce).
        var firstUnjournaledEdit: Timestamp?
        var saving = false
        var closed = false

        var hasChanges: Bool {
            guard let base else { return true }
            return content != base.content || title != base.title || description != base.description
        }

        mutating func markJournaled() {
            journaled = edits
            firstUnjournaledEdit = nil
        }

        var outOfSync: Bool {
            if backendDeleted { return true }
            guard let base, let backendVersion else { return false }
            return backendVersion != base.version || (backendHash.map { $0 != base.hash } ?? false)
        }
    }

    init(copyID: String, owner: UserID, state: State) {
        self.copyID = copyID
        self.owner = owner
        guarded = Mutex(state)
    }

    private func read<T: Sendable>(_ body: (State) -> T) -> T { guarded.withLock { body($0) } }

    // MARK: Reading

    public var sessionID: ResourceID? { read(\.sessionID) }
    public var title: String { read(\.title) }
    public var description: String? { read(\.description) }
    public var content: String { read(\.content) }
    public var hasChanges: Bool { read(\.hasChanges) }
    public var outOfSync: Bool { read(\.outOfSync) }
    /// The version the copy is based on (nil for a new session not saved yet).
    public var baseVersion: Int64? { read { $0.base?.version } }
    /// The version the store had when last seen (by open, poll, reload or save).
    public var backendVersion: Int64? { read(\.backendVersion) }
    /// Whether the last poll found the session deleted.
    public var backendDeleted: Bool { read(\.backendDeleted) }
    public var lastModified: Timestamp? { read(\.lastModified) }
    public var lastPersisted: Timestamp? { read(\.lastPersisted) }
    public var isSaving: Bool { read(\.saving) }
    public var isClosed: Bool { read(\.closed) }
    /// Whether edits wait for the journal's debounce.
    public var journalPending: Bool { read { $0.journaled != $0.edits } }

    // MARK: Editing

    /// Replaces the content. Content beyond the hard ceiling is refused here,
    /// so the journal never holds what no save could store.
    public func set(content: String) throws(KeepError) {
        // The limits' own check, so the message is the one saves give (in MiB).
        do throws(KeepError) {
            try Limits(contentBytes: HardCeilings.contentBytes, titleCharacters: 0 ... Int.max, descriptionCharacters: Int.max)
                .check(DocumentCandidate(kind: .session, operation: .update, owner: owner, title: "", description: nil,
                                         content: content))
        } catch {
            throw KeepError(error.code, error.message + " (the hard ceiling, whatever the policy)", details: error.details)
        }
        try edit { $0.content = content }
    }

    public func set(title: String) throws(KeepError) {
        guard title.unicodeScalars.count <= HardCeilings.titleCharacters else {
            throw KeepError(.invalid, "title is \(title.unicodeScalars.count) characters; at most \(HardCeilings.titleCharacters) are allowed")
        }
        try edit { $0.title = title }
    }

    public func set(description: String?) throws(KeepError) {
        if let description, description.unicodeScalars.count > HardCeilings.descriptionCharacters {
            throw KeepError(.invalid, "description is \(description.unicodeScalars.count) characters; at most \(HardCeilings.descriptionCharacters) are allowed")
        }
        try edit { $0.description = description }
    }

    private func edit(_ change: (inout State) -> Void) throws(KeepError) {
        let now = workbench?.timers.clock.now()
        try withState { state throws(KeepError) in
            guard !state.closed else { throw Self.closedError(copyID) }
            change(&state)
            state.edits &+= 1
            state.lastModified = now
            if state.firstUnjournaledEdit == nil { state.firstUnjournaledEdit = now }
        }
        workbench?.scheduleJournal(self)
    }

    static func closedError(_ copyID: String) -> KeepError {
        KeepError(.invalid, "working copy \(copyID) is closed; open the session again")
    }

    // MARK: The workbench's side

    /// Runs `body` on the state under the lock.
    func withState<T: Sendable>(_ body: (inout State) throws(KeepError) -> T) throws(KeepError) -> T {
        try guarded.withLock { state throws(KeepError) -> T in try body(&state) }
    }

    /// After a failed journal write: the edits still wait for the journal.
    func markJournalPending() {
        guarded.withLock { $0.journaled = $0.edits &- 1 }
    }

    /// Marks the current edits as journaled (or as needing no entry).
    func markJournaled() {
        guarded.withLock { $0.markJournaled() }
    }

    /// The journal entry for the current state, or nil when there is nothing
    /// unsaved; marks the current edits as journaled.
    func takeJournalEntry(database: String) -> RecoveryEntry? {
        guarded.withLock { state in
            state.markJournaled()
            guard state.hasChanges else { return nil }
            return RecoveryEntry(copyID: copyID, database: database, user: owner, sessionID: state.sessionID?.rawValue,
                                 title: state.title, description: state.description, content: state.content,
                                 base: state.base, modifiedAt: state.lastModified?.millisecondsSinceEpoch ?? 0,
                                 processID: getpid())
        }
    }
}

extension RecoveryEntry.Base {
    init(_ session: Session) {
        self.init(version: session.version, hash: session.hash, title: session.title,
                  description: session.description, content: session.content)
    }
}
