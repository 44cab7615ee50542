#if canImport(Glibc)
import Glibc
#endif
import KeepCore
import KeepStore

/// What a script's `keep` table acts on: the acting user and the services.
///
/// The store is opened on first use, so a script that never touches it does
/// not create a database file.
public final class ScriptContext: @unchecked Sendable {
    /// The acting user (`keep.user`). Used only on the script's thread.
    public var user: UserID
    public let clock: KeepClock
    /// Names the job leases this process takes ("keep-run:<pid>").
    public let holder: String
    private let openStorage: () throws -> any KeepStorage
    private var opened: Services?

    struct Services {
        let sessions: SessionService
        let snapshots: SnapshotService
        let jobs: JobRunner
    }

    public init(user: UserID, clock: KeepClock = .system, holder: String,
                openStorage: @escaping () throws -> any KeepStorage) {
        self.user = user
        self.clock = clock
        self.holder = holder
        self.openStorage = openStorage
    }

    var services: Services {
        get throws {
            if let opened { return opened }
            let storage = try openStorage()
            let services = Services(
                sessions: SessionService(storage: storage, clock: clock),
                snapshots: SnapshotService(storage: storage, clock: clock, diagnostics: { message in
                    ScriptDiagnostics.report(message)
                }),
                jobs: JobRunner(storage: storage, clock: clock, holder: holder))
            opened = services
            return services
        }
    }

    public var sessions: SessionService { get throws { try services.sessions } }
    public var snapshots: SnapshotService { get throws { try services.snapshots } }
    public var jobs: JobRunner { get throws { try services.jobs } }
}

/// Problems that must not fail a script (a visit that could not be logged)
/// are written to standard error.
enum ScriptDiagnostics {
    static func report(_ message: String) {
        var line = "keep: warning: " + message + "\n"
        line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
    }
}

