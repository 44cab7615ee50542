import Foundation
import KeepCore
import KeepStore
import Synchronization

/// The heartbeat of the migration lock: renews the lease every third of its
/// length on a thread of its own, so a long batch (or a slow `up`) does not
/// let it lapse. Batches renew it too, in their own transactions; a renewal
/// that finds the lock taken marks it lost, and the runner stops.
final class LeaseKeeper: Sendable {
    private let storage: any MigrationStorage
    private let holder: String
    private let leaseMilliseconds: Int64
    private let clock: KeepClock
    private let stopSignal = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let lost = Mutex<KeepError?>(nil)

    init(storage: any MigrationStorage, holder: String, leaseMilliseconds: Int64, clock: KeepClock) {
        self.storage = storage
        self.holder = holder
        self.leaseMilliseconds = leaseMilliseconds
        self.clock = clock
    }

    func start() {
        let interval = DispatchTimeInterval.milliseconds(Int(max(leaseMilliseconds / 3, 10)))
        Thread.detachNewThread { [self] in
            while stopSignal.wait(timeout: .now() + interval) == .timedOut {
                let (storage, holder, now, lease) = (storage, holder, clock.now(), leaseMilliseconds)
                do {
                    if try !blocking({ try await storage.renewMigrationLock(holder: holder, now: now, leaseMilliseconds: lease) }) {
                        markLost(KeepError(.conflict, "the migration lock was taken from \(holder) (its lease expired); "
                            + "this run stopped without writing further"))
                        break
                    }
                } catch {
                    // A busy database: the next beat (or the next batch) renews it.
                    continue
                }
            }
            stopped.signal()
        }
    }

    func stop() {
        stopSignal.signal()
        stopped.wait()
    }

    /// Throws when the lease was lost.
    func check() throws {
        if let error = lost.withLock({ $0 }) { throw error }
    }

    private func markLost(_ error: KeepError) {
        lost.withLock { $0 = error }
    }
}
