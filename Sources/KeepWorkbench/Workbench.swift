import Foundation
import KeepCore
import KeepJSON
import KeepStore
import Synchronization

/// The working-copy engine of SPEC §5 for one process: the open copies, the
/// recovery journal, the timers that journal edits and poll the store, and
/// the activity observer that steers polling.
///
/// Every decision asks the save policy afresh, so a hot-reloaded save.lua
/// applies to the next debounce, poll or conflict.
public final class Workbench: Sendable {
    public let activity: ActivityObserver
    public let timers: TimerQueue
    public let sessions: SessionService
    public let journal: RecoveryJournal
    private let policy: any SavePolicy
    /// Problems that must not fail the caller (a poll that could not reach the store).
    private let diagnostics: @Sendable (String) -> Void
    /// The open copies, by copy id.
    private let copies = Mutex<[String: WorkingCopy]>([:])
    /// To the activity observer; set once, at the end of `init`.
    private let subscription = Mutex<ActivitySubscription?>(nil)

    /// How a successful save reached the store.
    public enum SaveResolution: String, Sendable {
        /// The first save of a new copy created its session.
        case created
        case updated
        /// on_conflict: the copy was written over a newer stored version.
        case overwrote
        /// on_conflict: the copy was saved as a new session.
        case forked
        /// on_conflict: the copy's edits and the stored ones were merged.
        case merged
    }

    public enum SaveOutcome: Equatable, Sendable {
        case saved(SaveResolution)
        case noChanges
        /// Another save of the same copy is running.
        case inProgress
    }

    public enum CloseOutcome: String, Sendable {
        case closed
        /// Unsaved changes stay in the recovery journal.
        case kept
        /// Unsaved changes were dropped.
        case discarded
    }

    public init(sessions: SessionService, policy: any SavePolicy, journal: RecoveryJournal, timers: TimerQueue,
                activity: ActivityObserver, diagnostics: @escaping @Sendable (String) -> Void = { _ in }) {
        self.sessions = sessions
        self.policy = policy
        self.journal = journal
        self.timers = timers
        self.activity = activity
        self.diagnostics = diagnostics
        let subscription = activity.subscribe { [weak self] new, old in self?.activityChanged(to: new, from: old) }
        self.subscription.withLock { $0 = subscription }
    }

    deinit { subscription.withLock { $0 }?.cancel() }

    public var openCopies: [WorkingCopy] {
        copies.withLock { $0.values.sorted { $0.copyID < $1.copyID } }
    }

    // MARK: Opening

    /// A working copy of a stored session.
    public func open(_ id: ResourceID, as user: UserID) async throws -> WorkingCopy {
        let session = try await sessions.get(as: user, id: id)
        let now = timers.clock.now()
        return register(WorkingCopy(copyID: ResourceID.generate().rawValue, owner: user, state: .init(
            sessionID: session.id, title: session.title, description: session.description, content: session.content,
            base: .init(session), backendVersion: session.version, backendHash: session.hash, lastPersisted: now)))
    }

    /// A copy of a session that does not exist yet: its first save creates it.
    public func new(as user: UserID, title: String, description: String?, content: String) throws(KeepError) -> WorkingCopy {
        let copy = WorkingCopy(copyID: ResourceID.generate().rawValue, owner: user,
                               state: .init(title: "", content: ""))
        try copy.set(title: title)
        try copy.set(description: description)
        try copy.set(content: content)
        let now = timers.clock.now()
        _ = try? copy.withState { state in
            state.lastModified = now
            state.firstUnjournaledEdit = now
        }
        register(copy)
        scheduleJournal(copy)
        return copy
    }

    /// The unsaved copies of `user` in the journal, most recent first, less those open in this process.
    public func recoverable(as user: UserID) -> [RecoveryEntry] {
        let open = Set(copies.withLock { $0.keys })
        return journal.entries(user: user).filter { !open.contains($0.copyID) }
    }

    /// Reopens a journaled copy exactly as it was, then polls the store once
    /// so that a session changed or deleted meanwhile shows as out of sync.
    /// The copy gets a journal entry of its own (a new copy id), and the old
    /// entry goes once the new one is written. A copy another process has
    /// open (it holds the entry's lock) is not recovered: it is not lost.
    public func recover(_ copyID: String, as user: UserID) async throws -> WorkingCopy {
        guard (try? ResourceID(copyID)) != nil, let entry = journal.entry(copyID: copyID),
              entry.user == user, entry.database == journal.database else {
            throw KeepError(.notFound, "no recoverable working copy \(copyID) for \(user) in this database; keep.workbench.recoverable() lists them")
        }
        if let open = copies.withLock({ $0[copyID] }) { return open }
        guard !journal.isOpenElsewhere(copyID: copyID) else {
            throw KeepError(.conflict, "working copy \(copyID) is open in another process (pid \(entry.processID)); save or close it there, or recover it once that process has ended",
                            details: ["copy_id": .text(copyID), "pid": .integer(Int64(entry.processID))])
        }
        let base = entry.base
        let copy = WorkingCopy(copyID: ResourceID.generate().rawValue, owner: user, state: .init(
            sessionID: try entry.sessionID.map { id throws(KeepError) in try ResourceID(id) },
            title: entry.title, description: entry.description, content: entry.content, base: base,
            backendVersion: base?.version, backendHash: base?.hash,
            lastModified: Timestamp(millisecondsSinceEpoch: entry.modifiedAt), edits: 1))
        copy.workbench = self
        if copy.sessionID != nil { _ = try await poll(copy) }
        register(copy)
        do {
            try writeJournal(copy)
        } catch {
            _ = try? close(copy, discard: true)
            throw error
        }
        journal.remove(copyID: copyID)
        return copy
    }

    /// Deletes a journaled copy the user does not want back
    /// (`keep.workbench.discard(entry)`). A copy open here is closed with
    /// `close(discard: true)` instead; one open in another process is left alone.
    public func discard(_ copyID: String, as user: UserID) throws(KeepError) {
        guard (try? ResourceID(copyID)) != nil, let entry = journal.entry(copyID: copyID),
              entry.user == user, entry.database == journal.database else {
            throw KeepError(.notFound, "no recoverable working copy \(copyID) for \(user) in this database; keep.workbench.recoverable() lists them")
        }
        if copies.withLock({ $0[copyID] }) != nil {
            throw KeepError(.conflict, "working copy \(copyID) is open here; close it with w:close{discard = true}",
                            details: ["copy_id": .text(copyID)])
        }
        guard !journal.isOpenElsewhere(copyID: copyID) else {
            throw KeepError(.conflict, "working copy \(copyID) is open in another process (pid \(entry.processID)); close it there",
                            details: ["copy_id": .text(copyID), "pid": .integer(Int64(entry.processID))])
        }
        journal.remove(copyID: copyID)
    }

    @discardableResult
    private func register(_ copy: WorkingCopy) -> WorkingCopy {
        copy.workbench = self
        copies.withLock { $0[copy.copyID] = copy }
        schedulePoll(copy)
        return copy
    }

    // MARK: Saving

    /// Saves the copy's content as captured now. Edits made while the save
    /// runs stay unsaved (`hasChanges`); a second save meanwhile answers
    /// `inProgress`. A conflict goes to the policy's `on_conflict`, or to
    /// `onConflict` when given (`w:save{on_conflict = …}`, this save only).
    public func save(_ copy: WorkingCopy, onConflict: ConflictDecision? = nil) async throws -> SaveOutcome {
        let capture = try copy.withState { state throws(KeepError) -> Capture in
            guard !state.closed else { throw WorkingCopy.closedError(copy.copyID) }
            if state.saving { return .busy }
            guard state.hasChanges else { return .unchanged }
            state.saving = true
            return .captured(state)
        }
        let captured: WorkingCopy.State
        switch capture {
        case .busy: return .inProgress
        case .unchanged: return .noChanges
        case .captured(let state): captured = state
        }
        defer { _ = try? copy.withState { $0.saving = false } }
        let (session, resolution, mergedFrom) = try await write(captured, of: copy, onConflict: onConflict)
        finishSave(copy, captured: captured, saved: session, mergedFrom: mergedFrom)
        return .saved(resolution)
    }

    private enum Capture {
        case busy, unchanged
        case captured(WorkingCopy.State)
    }

    /// Writes the captured state; on a conflict, does what the policy says.
    /// `mergedFrom` is the stored version a merge or overwrite was written over.
    private func write(_ captured: WorkingCopy.State, of copy: WorkingCopy, onConflict: ConflictDecision? = nil) async throws
        -> (Session, SaveResolution, Int64?) {
        let user = copy.owner
        guard let id = captured.sessionID, let base = captured.base else {
            let session = try await sessions.create(as: user, title: captured.title, description: captured.description,
                                                    content: captured.content)
            return (session, .created, nil)
        }
        do {
            let session = try await sessions.update(as: user, id: id, changes(captured, against: base, expected: base.version))
            return (session, .updated, nil)
        } catch let error as KeepError where error.code == .notFound {
            // Deleted meanwhile: say so, the way a poll would have.
            _ = try await storedSession(id, as: user, copy: copy)
            throw error
        } catch let error as KeepError where error.code == .conflict {
            // Another writer moved the session; the policy decides. A writer
            // that moves it again meanwhile gets the same treatment, twice more.
            var lastError = error
            for _ in 0 ..< 3 {
                let stored = try await storedSession(id, as: user, copy: copy)
                let info = ConflictInfo(sessionID: id, owner: user, title: captured.title, baseVersion: base.version,
                                        storedVersion: stored.version, localHash: ContentHash(of: captured.content),
                                        storedHash: stored.hash, storedUpdatedAt: stored.updatedAt)
                let decision = try onConflict ?? policy.resolveConflict(info)
                do {
                    return try await resolve(decision.choice, fallback: decision.fallback, captured: captured,
                                             base: base, stored: stored, copy: copy)
                } catch let signal as SaveSignal where signal.isConflictWhileResolving {
                    lastError = signal.error
                }
            }
            throw KeepError(.conflict, "session \(id) kept changing while it was saved; try again (\(lastError.message))",
                            details: ["id": .text(id.rawValue)])
        }
    }

    private func resolve(_ choice: ConflictChoice, fallback: ConflictChoice, captured: WorkingCopy.State, base: WorkingCopy.Base,
                         stored: Session, copy: WorkingCopy) async throws -> (Session, SaveResolution, Int64?) {
        let user = copy.owner
        switch choice {
        case .reject:
            throw KeepError(.conflict, "session \(stored.id) was saved elsewhere since this copy was opened (stored version \(stored.version), this copy's base \(base.version)); save.lua's on_conflict chose reject. Reload (w:reload{discard=true}), save as a new session (w:save_as{…}), or choose merge, fork or overwrite in on_conflict",
                            details: ["id": .text(stored.id.rawValue), "version": .integer(stored.version), "base_version": .integer(base.version)])
        case .overwrite:
            let session = try await retrying { try await self.sessions.update(as: user, id: stored.id,
                self.changes(captured, against: WorkingCopy.Base(stored), expected: stored.version)) }
            return (session, .overwrote, stored.version)
        case .fork:
            let session = try await sessions.create(as: user, title: captured.title, description: captured.description,
                                                    content: captured.content)
            return (session, .forked, nil)
        case .merge:
            guard let merged = Self.merge(base: base, ours: captured, theirs: stored) else {
                // ConflictDecision never makes merge its own fallback.
                return try await resolve(fallback, fallback: .reject, captured: captured,
                                         base: base, stored: stored, copy: copy)
            }
            let session = try await retrying { try await self.sessions.update(as: user, id: stored.id,
                self.changes(merged, against: WorkingCopy.Base(stored), expected: stored.version)) }
            return (session, .merged, stored.version)
        }
    }

    /// Turns a conflict met while resolving one into `SaveSignal.conflictWhileResolving`,
    /// so that `write` asks the policy again.
    private func retrying(_ body: () async throws -> Session) async throws -> Session {
        do {
            return try await body()
        } catch let error as KeepError where error.code == .conflict {
            throw SaveSignal.conflictWhileResolving(error)
        }
    }

    /// The copy's fields merged three-way with the stored session: content by
    /// JSON merge, title and description as single values. Nil when edits overlap.
    static func merge(base: WorkingCopy.Base, ours: WorkingCopy.State, theirs: Session) -> WorkingCopy.State? {
        /// One value merged three-way; nil when both sides changed it differently.
        func pick<T: Equatable>(_ base: T, _ ours: T, _ theirs: T) -> T? {
            if ours == theirs || theirs == base { return ours }
            if ours == base { return theirs }
            return nil
        }
        guard case .merged(var content) = ThreeWayMerge.merge(base: base.content, ours: ours.content, theirs: theirs.content),
              case .some(let title) = pick(base.title, ours.title, theirs.title),
              case .some(let description) = pick(base.description, ours.description, theirs.description)
        else { return nil }
        // A merged document (not one side taken whole) keeps the layout of the copy's content.
        if content != ours.content && content != theirs.content && JSONLayout.isIndented(ours.content) {
            content = JSONLayout.indented(content)
        }
        var merged = ours
        merged.content = content
        merged.title = title
        merged.description = description
        return merged
    }

    /// The partial update that turns `base` into the captured state.
    private func changes(_ captured: WorkingCopy.State, against base: WorkingCopy.Base, expected: Int64) -> SessionChanges {
        SessionChanges(title: captured.title == base.title ? nil : captured.title,
                       description: captured.description == base.description ? nil : .some(captured.description),
                       content: captured.content == base.content ? nil : captured.content,
                       expectedVersion: expected)
    }

    /// The stored session, which the copy then knows as the backend's
    /// version; a deleted one is marked on the copy before the error goes up.
    private func storedSession(_ id: ResourceID, as user: UserID, copy: WorkingCopy) async throws -> Session {
        do {
            let stored = try await sessions.get(as: user, id: id)
            _ = try? copy.withState { state in
                state.backendVersion = stored.version
                state.backendHash = stored.hash
                state.backendDeleted = false
            }
            return stored
        } catch let error as KeepError where error.code == .notFound {
            _ = try? copy.withState { $0.backendDeleted = true }
            throw KeepError(.notFound, "session \(id) was deleted since this copy was opened; w:save_as{title = …} saves it as a new session",
                            details: ["id": .text(id.rawValue)])
        }
    }

    /// After a successful write: the saved version becomes the base. Edits
    /// made during the save stay on top of it; when the save wrote something
    /// other than the captured content (a merge), they are merged onto it, and
    /// if that overlaps the base stays behind, so the next save meets the
    /// conflict again instead of silently dropping the stored edits.
    private func finishSave(_ copy: WorkingCopy, captured: WorkingCopy.State, saved: Session, mergedFrom: Int64?) {
        let now = timers.clock.now()
        let journalEntryNeeded: Bool = (try? copy.withState { state -> Bool in
            let savedBase = WorkingCopy.Base(saved)
            state.sessionID = saved.id
            state.backendVersion = saved.version
            state.backendHash = saved.hash
            state.backendDeleted = false
            state.lastPersisted = now
            if state.edits == captured.edits {
                state.title = saved.title
                state.description = saved.description
                state.content = saved.content
                state.base = savedBase
            } else if saved.content == captured.content && saved.title == captured.title.trimmingWhitespace()
                        && saved.description == captured.description {
                state.base = savedBase
            } else if let rebased = Self.merge(base: WorkingCopy.Base(version: saved.version, hash: ContentHash(of: captured.content),
                                                                       title: captured.title, description: captured.description,
                                                                       content: captured.content),
                                               ours: state, theirs: saved) {
                state.title = rebased.title
                state.description = rebased.description
                state.content = rebased.content
                state.base = savedBase
            } else {
                state.base = WorkingCopy.Base(version: mergedFrom ?? saved.version, hash: ContentHash(of: captured.content),
                                              title: captured.title, description: captured.description,
                                              content: captured.content)
            }
            return state.hasChanges
        }) ?? false
        if timers.deadline(of: Self.pollKey(copy)) == nil { schedulePoll(copy) }
        if journalEntryNeeded {
            scheduleJournal(copy)
        } else {
            timers.cancel(Self.journalKey(copy))
            copy.markJournaled()
            journal.remove(copyID: copy.copyID)
        }
    }

    /// Saves the copy as a new session, which the copy then edits (the
    /// session it came from is left as it is).
    public func saveAs(_ copy: WorkingCopy, title: String?, description: String??) async throws {
        if let title { try copy.set(title: title) }
        if let description { try copy.set(description: description) }
        let captured = try copy.withState { state throws(KeepError) -> WorkingCopy.State in
            guard !state.closed else { throw WorkingCopy.closedError(copy.copyID) }
            guard !state.saving else {
                throw KeepError(.conflict, "working copy \(copy.copyID) is being saved; save_as once that save is done")
            }
            state.saving = true
            return state
        }
        defer { _ = try? copy.withState { $0.saving = false } }
        let session = try await sessions.create(as: copy.owner, title: captured.title, description: captured.description,
                                                content: captured.content)
        finishSave(copy, captured: captured, saved: session, mergedFrom: nil)
    }

    // MARK: Reading the store

    /// Reads the stored version; returns whether the copy is now out of sync.
    @discardableResult
    public func poll(_ copy: WorkingCopy) async throws -> Bool {
        guard let id = copy.sessionID else { return false }
        do {
            _ = try await storedSession(id, as: copy.owner, copy: copy)
        } catch let error as KeepError where error.code == .notFound {
            return true
        }
        return copy.outOfSync
    }

    /// Replaces the copy with the stored version. Unsaved changes are only
    /// dropped when `discard` says so.
    public func reload(_ copy: WorkingCopy, discard: Bool) async throws {
        guard let id = copy.sessionID else {
            throw KeepError(.invalid, "working copy \(copy.copyID) is a new session that was never saved; there is nothing to reload")
        }
        if copy.hasChanges && !discard {
            throw KeepError(.conflict, "working copy \(copy.copyID) has unsaved changes; save them first, or w:reload{discard = true} to drop them")
        }
        let stored = try await storedSession(id, as: copy.owner, copy: copy)
        let now = timers.clock.now()
        try copy.withState { state throws(KeepError) in
            guard !state.closed else { throw WorkingCopy.closedError(copy.copyID) }
            state.title = stored.title
            state.description = stored.description
            state.content = stored.content
            state.base = .init(stored)
            state.lastPersisted = now
            state.edits &+= 1
        }
        timers.cancel(Self.journalKey(copy))
        copy.markJournaled()
        journal.remove(copyID: copy.copyID)
    }

    /// Closes the copy: its timers stop. Unsaved changes stay in the journal
    /// (recoverable) unless `discard`.
    @discardableResult
    public func close(_ copy: WorkingCopy, discard: Bool) throws(KeepError) -> CloseOutcome {
        guard !copy.isClosed else { throw WorkingCopy.closedError(copy.copyID) }
        // Journal first: if that fails the copy stays open, its edits reachable.
        if copy.hasChanges && !discard { try writeJournal(copy) }
        let hadChanges = try copy.withState { state throws(KeepError) -> Bool in
            guard !state.closed else { throw WorkingCopy.closedError(copy.copyID) }
            state.closed = true
            return state.hasChanges
        }
        timers.cancel(Self.journalKey(copy))
        timers.cancel(Self.pollKey(copy))
        _ = copies.withLock { $0.removeValue(forKey: copy.copyID) }
        guard hadChanges, !discard else {
            // Also an entry journaled before the copy was edited back to its base.
            journal.remove(copyID: copy.copyID)
            return hadChanges ? .discarded : .closed
        }
        // Edits that slipped in after the journal write above.
        if copy.journalPending { try writeJournal(copy) }
        journal.release(copyID: copy.copyID)
        return .kept
    }

    // MARK: Timers

    static func journalKey(_ copy: WorkingCopy) -> String { "journal:" + copy.copyID }
    static func pollKey(_ copy: WorkingCopy) -> String { "poll:" + copy.copyID }

    /// Journals the copy once edits pause for the policy's debounce, and at
    /// the latest ten debounces after the first edit the journal lacks (a
    /// steady stream of edits is still journaled).
    func scheduleJournal(_ copy: WorkingCopy) {
        let debounce = policy.saveSettings.autosaveDebounceMilliseconds
        let now = timers.clock.now().millisecondsSinceEpoch
        let first = (try? copy.withState { $0.firstUnjournaledEdit?.millisecondsSinceEpoch }) ?? nil
        let deadline = min(now + debounce, (first ?? now) + 10 * debounce)
        timers.schedule(Self.journalKey(copy), at: Timestamp(millisecondsSinceEpoch: deadline)) { [weak self, weak copy] in
            guard let self, let copy else { return }
            do { try self.writeJournal(copy) } catch { self.diagnostics("\(error)") }
        }
    }

    /// Writes the copy's entry now (or removes it when nothing is unsaved).
    public func writeJournal(_ copy: WorkingCopy) throws(KeepError) {
        let entry = copy.takeJournalEntry(database: journal.database)
        guard let entry else {
            journal.remove(copyID: copy.copyID)
            return
        }
        do {
            try journal.write(entry)
            journal.hold(copyID: copy.copyID)
        } catch {
            // Still pending: the next edit, flush or exit tries again.
            copy.markJournalPending()
            throw error
        }
    }

    /// Writes every pending entry now (on_activity's "journal", and at exit);
    /// returns how many could not be written (each is reported).
    @discardableResult
    public func flushJournal() -> Int {
        var failed = 0
        for copy in openCopies where copy.journalPending {
            timers.cancel(Self.journalKey(copy))
            do { try writeJournal(copy) } catch {
                diagnostics("\(error)")
                failed += 1
            }
        }
        return failed
    }

    /// How often a copy whose policy turned periodic polling off (interval 0)
    /// looks at the setting again, so that a reload turning it on applies.
    static let pollSettingRecheckMilliseconds: Int64 = 1000

    /// Polls every `poll_interval_ms` while `poll_when(activity)` allows it. A
    /// tick skipped (hidden) is not made up later: becoming active polls at
    /// once. `deadline` asks for one poll then; `force` polls whatever
    /// `poll_when` says (on_activity's "poll").
    private func schedulePoll(_ copy: WorkingCopy, at deadline: Timestamp? = nil, force: Bool = false) {
        guard copy.sessionID != nil, !copy.isClosed else { return }
        let interval = policy.saveSettings.pollIntervalMilliseconds
        let polls = deadline != nil || interval > 0
        let action: TimerQueue.Action = { [weak self, weak copy] in
            guard let self, let copy, !copy.isClosed else { return }
            if polls && (force || self.policy.shouldPoll(self.activity.state)) {
                do { try await self.poll(copy) } catch { self.diagnostics("polling \(copy.sessionID?.rawValue ?? copy.copyID): \(error)") }
            }
            self.schedulePoll(copy)
        }
        if let deadline {
            timers.schedule(Self.pollKey(copy), at: deadline, action)
        } else {
            timers.schedule(Self.pollKey(copy), after: interval > 0 ? interval : Self.pollSettingRecheckMilliseconds, action)
        }
    }

    private func activityChanged(to new: ActivityState, from old: ActivityState) {
        let copies = openCopies
        let info = ActivityInfo(previous: old, openCopies: copies.count, unsavedCopies: copies.filter(\.hasChanges).count)
        let actions: [ActivityAction]
        do {
            actions = try policy.activityChanged(to: new, info: info)
        } catch {
            diagnostics("save.lua on_activity: \(error)")
            actions = []
        }
        let now = timers.clock.now()
        let forced = actions.contains(.poll)
        if forced || (new == .active && old != .active && policy.shouldPoll(.active)) {
            for copy in copies { schedulePoll(copy, at: now, force: forced) }
        }
        if actions.contains(.journal) { flushJournal() }
        if actions.contains(.save) {
            timers.schedule("save-all", at: now) { [weak self] in
                guard let self else { return }
                for copy in self.openCopies where copy.hasChanges {
                    do { _ = try await self.save(copy) } catch { self.diagnostics("saving \(copy.sessionID?.rawValue ?? copy.copyID): \(error)") }
                }
            }
        }
    }
}

/// How a step of a save tells `write` what to do next: a type of its own,
/// so that no string in `KeepError.details` steers the save, and a struct
/// around a private enum (as Hummingbird's errors are) so that signals can be
/// added without touching the places that match them. Never leaves `write`.
struct SaveSignal: Error {
    private enum Code {
        case conflictWhileResolving
    }

    private let code: Code
    /// The error that raised the signal.
    let error: KeepError

    /// The stored version moved again while a conflict was being resolved: ask the policy again.
    static func conflictWhileResolving(_ error: KeepError) -> SaveSignal {
        SaveSignal(code: .conflictWhileResolving, error: error)
    }

    var isConflictWhileResolving: Bool { code == .conflictWhileResolving }
}
