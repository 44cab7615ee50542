/// What a window-less workbench knows about its user's attention (SPEC §5):
/// typing (`active`), present but idle (`visible`), away (`hidden`).
public enum ActivityState: String, Sendable, CaseIterable {
    case active, visible, hidden
}

/// How a save resolves a conflict: the stored version moved since the
/// working copy's base (SPEC §4 `on_conflict`).
public enum ConflictChoice: String, Sendable, CaseIterable {
    /// Fail with `conflict`; the copy keeps its edits.
    case reject
    /// Write the copy over the stored version.
    case overwrite
    /// Save the copy as a new session; the stored one is left alone.
    case fork
    /// Three-way JSON merge against the base; overlapping edits take the fallback.
    case merge
}

/// What `on_conflict` decides: a choice and, for `merge`, what to do when the
/// edits overlap (never `merge` again).
public struct ConflictDecision: Sendable, Equatable {
    public var choice: ConflictChoice
    public var fallback: ConflictChoice

    public init(_ choice: ConflictChoice, fallback: ConflictChoice = .reject) {
        self.choice = choice
        self.fallback = fallback == .merge ? .reject : fallback
    }
}

/// What `on_conflict` is told.
public struct ConflictInfo: Sendable, Equatable {
    public var sessionID: ResourceID
    public var owner: UserID
    public var title: String
    /// The version the copy started from, and the one stored now.
    public var baseVersion: Int64
    public var storedVersion: Int64
    public var localHash: ContentHash
    public var storedHash: ContentHash
    public var storedUpdatedAt: Timestamp

    public init(sessionID: ResourceID, owner: UserID, title: String, baseVersion: Int64, storedVersion: Int64,
                localHash: ContentHash, storedHash: ContentHash, storedUpdatedAt: Timestamp) {
        self.sessionID = sessionID
        self.owner = owner
        self.title = title
        self.baseVersion = baseVersion
        self.storedVersion = storedVersion
        self.localHash = localHash
        self.storedHash = storedHash
        self.storedUpdatedAt = storedUpdatedAt
    }
}

/// What `on_activity` may ask the workbench to do after a change of state.
public enum ActivityAction: String, Sendable, CaseIterable {
    /// Save every open copy that has changes.
    case save
    /// Poll every open copy now.
    case poll
    /// Write every pending recovery-journal entry now.
    case journal
}

/// What `on_activity` is told besides the new state.
public struct ActivityInfo: Sendable, Equatable {
    public var previous: ActivityState
    public var openCopies: Int
    public var unsavedCopies: Int

    public init(previous: ActivityState, openCopies: Int, unsavedCopies: Int) {
        self.previous = previous
        self.openCopies = openCopies
        self.unsavedCopies = unsavedCopies
    }
}

/// The numbers of save.lua.
public struct SaveSettings: Sendable, Equatable {
    /// Quiet time after the last edit before the recovery journal is written.
    public var autosaveDebounceMilliseconds: Int64
    /// Time between polls of the store for a newer version.
    public var pollIntervalMilliseconds: Int64
    /// `require_if_match`: whether the HTTP API refuses a session PUT or
    /// DELETE without `If-Match` (428) instead of letting the last write win.
    public var requireIfMatch: Bool

    public init(autosaveDebounceMilliseconds: Int64 = 200, pollIntervalMilliseconds: Int64 = 10_000,
                requireIfMatch: Bool = false) {
        self.autosaveDebounceMilliseconds = autosaveDebounceMilliseconds
        self.pollIntervalMilliseconds = pollIntervalMilliseconds
        self.requireIfMatch = requireIfMatch
    }
}

/// The save policy working copies follow (save.lua, SPEC §4–§5). A policy
/// folder implements it in Lua; `DefaultSavePolicy` is the built-in one.
/// Hosts ask it afresh for every decision, so a reload applies at once.
public protocol SavePolicy: Sendable {
    var saveSettings: SaveSettings { get }
    /// Whether polling runs in `activity` (`poll_when`).
    func shouldPoll(_ activity: ActivityState) -> Bool
    /// `on_activity`: what to do now that the state is `state`.
    func activityChanged(to state: ActivityState, info: ActivityInfo) throws(KeepError) -> [ActivityAction]
    /// `on_conflict`.
    func resolveConflict(_ info: ConflictInfo) throws(KeepError) -> ConflictDecision
}

/// The shipped save.lua's behaviour, for hosts without a policy folder.
public struct DefaultSavePolicy: SavePolicy {
    public var saveSettings: SaveSettings
    public var onConflict: ConflictDecision

    public init(settings: SaveSettings = SaveSettings(), onConflict: ConflictDecision = ConflictDecision(.reject)) {
        saveSettings = settings
        self.onConflict = onConflict
    }

    public func shouldPoll(_ activity: ActivityState) -> Bool { activity != .hidden }

    public func activityChanged(to state: ActivityState, info: ActivityInfo) -> [ActivityAction] {
        state == .hidden ? [.journal] : []
    }

    public func resolveConflict(_ info: ConflictInfo) -> ConflictDecision { onConflict }
}
