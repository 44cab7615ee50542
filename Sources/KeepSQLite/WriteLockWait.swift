#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// How a write waits for SQLite's write lock while another connection holds
/// it: SQLite's busy handler, as `sqlite3_busy_timeout` would do, plus what
/// that cannot do: report once that a write is waiting (schema set-up says
/// so), and let some writes not wait at all (a visit logged by a read).
///
/// Writes run one at a time on the writer connection's queue; the opening
/// thread sets `onWait` around the schema set-up.
final class WriteLockWait: Sendable {
    /// How long a write waits for the lock before it fails as `unavailable`.
    let timeout: Duration

    private struct State {
        var waits = true
        var onWait: (@Sendable () -> Void)?
        var started: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    init(timeout: Duration) {
        self.timeout = timeout
    }

    /// False for writes that give up at once when the lock is taken.
    var waits: Bool {
        get { state.withLock { $0.waits } }
        set { state.withLock { $0.waits = newValue } }
    }

    /// Called once when the current write starts waiting.
    var onWait: (@Sendable () -> Void)? {
        get { state.withLock { $0.onWait } }
        set { state.withLock { $0.onWait = newValue } }
    }

    /// `timeout` as people read it ("5 s").
    var timeoutText: String {
        let seconds = timeout.components.seconds
        return seconds >= 1 && timeout == .seconds(seconds) ? "\(seconds) s" : "\(timeout)"
    }

    /// SQLite's busy handler: true to try again, false to fail with SQLITE_BUSY.
    /// `tries` counts the calls for the statement that waits, from 0.
    func retry(_ tries: Int) -> Bool {
        let now = ContinuousClock.now
        let (waits, started, onWait) = state.withLock { state in
            if tries == 0 && state.waits { state.started = now }
            return (state.waits, state.started, tries == 0 ? state.onWait : nil)
        }
        guard waits else { return false }
        onWait?()
        guard let started, now - started < timeout else { return false }
        // SQLite's own schedule: short naps first, then 100 ms at most.
        let delays: [useconds_t] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100]
        usleep(delays[min(tries, delays.count - 1)] * 1000)
        return true
    }
}
