#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeepCore
import KeepPolicy
import KeepRuntime
import KeepStore
import KeepWorkbench

/// What a script's `keep` table acts on: the acting user and the services.
///
/// The store is opened on first use, so a script that never touches it does
/// not create a database file. Not Sendable: it belongs to the thread that
/// runs its Lua state (only `activity` and the services cross threads).
public final class ScriptContext {
    /// The acting user (`keep.user`). Used only on the script's thread.
    public var user: UserID
    public let clock: KeepClock
    /// The user's attention (`keep.activity`); the REPL feeds it.
    public let activity: ActivityObserver
    /// The host event loop's timers (journal debounce, polling).
    public let timers: TimerQueue
    private let recovery: RecoveryLocation
    private let openServices: () throws -> KeepServices
    private var opened: Services?
    /// `finish` ran (it runs once, whichever way the process ends).
    private var finished = false

    /// The process's services, and the working copies scripts edit over them.
    struct Services {
        let runtime: KeepServices
        let workbench: Workbench
    }

    /// Where unsaved working copies are journaled: a folder of the OS user,
    /// keyed by the database they belong to.
    public struct RecoveryLocation: Sendable {
        public var root: String
        public var databasePath: String

        public init(root: String, databasePath: String) {
            self.root = root
            self.databasePath = databasePath
        }

        /// The database as an absolute path with links resolved, so that every
        /// way of naming one file finds the same journal entries.
        var canonicalDatabase: String {
            // A server's database (a URL, without its password) is named one way.
            if databasePath.contains("://") { return databasePath }
            if let resolved = realpath(databasePath, nil) {
                defer { free(resolved) }
                return String(cString: resolved)
            }
            return databasePath.hasPrefix("/") ? databasePath : FileManager.default.currentDirectoryPath + "/" + databasePath
        }
    }

    /// `openServices` runs with the store's first use, so a script that never
    /// touches it creates no database file, and a broken policy folder only
    /// stops scripts that write or read data.
    public init(user: UserID, clock: KeepClock = .system, recovery: RecoveryLocation,
                activity: ActivityState = .visible, openServices: @escaping () throws -> KeepServices) {
        self.user = user
        self.clock = clock
        self.recovery = recovery
        self.activity = ActivityObserver(state: activity)
        self.timers = TimerQueue(clock: clock)
        self.openServices = openServices
    }

    var services: Services {
        get throws {
            if let opened { return opened }
            guard !finished else {
                throw KeepError(.invalid, "the store was closed (the script or REPL is ending)")
            }
            let runtime = try openServices()
            let journal = RecoveryJournal(root: recovery.root, database: recovery.canonicalDatabase)
            let services = Services(
                runtime: runtime,
                workbench: Workbench(sessions: runtime.sessions, policy: runtime.policies.save, journal: journal,
                                     timers: timers, activity: activity,
                                     diagnostics: { message in ScriptDiagnostics.report(message) }))
            opened = services
            return services
        }
    }

    public var sessions: SessionService { get throws { try services.runtime.sessions } }
    public var snapshots: SnapshotService { get throws { try services.runtime.snapshots } }
    public var jobs: JobRunner { get throws { try services.runtime.jobs } }
    /// Whether queued jobs are attempted at once (`--jobs inline`) or left to workers.
    public var jobMode: JobMode { get throws { try services.runtime.configuration.jobs } }
    public var policies: Policies { get throws { try services.runtime.policies } }
    public var workbench: Workbench { get throws { try services.workbench } }

    /// Runs the timers that are due (journal writes, polls). The REPL calls it
    /// while it waits for input; scripts reach it through the workbench API.
    public func runDueTimers() {
        guard opened != nil, let next = timers.nextDeadline, next <= clock.now() else { return }
        let timers = self.timers
        _ = try? blocking { await timers.runDue() }
    }

    /// At the end of a script or REPL (and in `os.exit`): journals unsaved
    /// working copies (`finishWorkbench`), then closes the store, so that the
    /// database file alone holds everything even when the process exits at
    /// once. Nothing may use the context afterwards.
    public func finish() {
        guard !finished else { return }
        finished = true
        // Output printed so far comes before the warnings.
        fflush(nil)
        finishWorkbench()
        guard let runtime = opened?.runtime else { return }
        opened = nil
        do {
            try runtime.close()
        } catch {
            ScriptDiagnostics.report("\(error)")
        }
    }

    /// At exit: journals every pending edit at once and warns about copies
    /// left unsaved, which stay recoverable (or, if the journal could not be
    /// written, are lost: the warning says so).
    private func finishWorkbench() {
        guard let workbench = opened?.workbench else { return }
        let failed = workbench.flushJournal()
        let unsaved = workbench.openCopies.filter(\.hasChanges).count
        if unsaved > 0 {
            let copies = "\(unsaved) working cop\(unsaved == 1 ? "y has" : "ies have") unsaved changes"
            ScriptDiagnostics.report(failed == 0 ? copies + "; they are kept for keep.workbench.recoverable()"
                : copies + "; \(failed) could not be written to the recovery journal and are lost")
        }
    }
}

/// Problems that must not fail a script (a visit that could not be logged)
/// are written to standard error.
enum ScriptDiagnostics {
    static func report(_ message: String) {
        var line = "keep: warning: " + message + "\n"
        line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
    }
}

