import KeepCore
import Synchronization

/// A long-running job worker (`keep jobs work`, SPEC §10): claims due jobs in
/// batches, runs up to `concurrency` at once with its `JobRunner` (retry
/// schedule, visit rule), and renews each job's lease by a heartbeat while it
/// runs. When idle it waits for a queued job (the backend's `jobsQueued`:
/// PostgreSQL's NOTIFY), the next job due (a retry) or the next poll,
/// whichever comes first.
///
/// Several workers — processes, hosts — share one database: a claim skips
/// jobs another worker holds, and a dead worker's jobs are claimed again once
/// their lease expires.
public final class JobWorker: Sendable {
    public let runner: JobRunner
    public let concurrency: Int
    /// How long an idle worker waits before looking again (the fallback when
    /// no notification comes, and the only way on SQLite).
    public let pollInterval: Duration
    /// Problems that do not stop the worker (a failed claim, a lost lease).
    private let warn: @Sendable (String) -> Void
    private let bell = Doorbell()
    private let stopping = Mutex(false)
    private let inFlight = Mutex(0)

    public init(runner: JobRunner, concurrency: Int = 1, pollInterval: Duration = .seconds(1),
                warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.runner = runner
        self.concurrency = max(1, concurrency)
        self.pollInterval = pollInterval
        self.warn = warn
    }

    /// Asks `run` to return: it claims no more jobs, finishes those it holds,
    /// then returns. Safe from any thread (a signal handler's queue).
    public func stop() {
        stopping.withLock { $0 = true }
        bell.ring()
    }

    /// Looks for due jobs now instead of at the next poll: for a process
    /// that queued a job itself (`keep serve` after a snapshot delete), on a
    /// backend that does not notify (SQLite).
    public func wake() { bell.ring() }

    /// Works until `stop`; `report` hears every attempt's outcome, from the
    /// task that ran it. `ready` runs once the worker listens for queued jobs
    /// (a job queued from then on wakes it), before its first claim.
    public func run(ready: @Sendable () -> Void = {}, report: @escaping @Sendable (JobRunner.Outcome) -> Void) async {
        let storage = runner.storage
        var queued: AsyncStream<Void>?
        do {
            queued = try await storage.jobsQueued()
        } catch {
            warn("cannot listen for queued jobs (\(error)); polling every \(pollInterval)")
        }
        let listening = Task { [bell, queued] in
            guard let queued else { return }
            for await _ in queued { bell.ring() }
        }
        defer { listening.cancel() }
        ready()
        await withTaskGroup(of: Void.self) { group in
            while !stopping.withLock({ $0 }) {
                let free = concurrency - inFlight.withLock { $0 }
                var claimed: [Job] = []
                if free > 0 {
                    do {
                        claimed = try await storage.claimJobs(limit: free, holder: runner.holder, now: runner.clock.now(),
                                                              leaseMilliseconds: runner.leaseMilliseconds)
                    } catch {
                        warn("could not claim jobs: \(error); trying again in \(pollInterval)")
                    }
                }
                for job in claimed {
                    inFlight.withLock { $0 += 1 }
                    group.addTask { [self] in
                        if let outcome = await attemptWithHeartbeat(job) { report(outcome) }
                        inFlight.withLock { $0 -= 1 }
                        bell.ring()
                    }
                }
                // A full batch: more may be due at once.
                if free > 0, claimed.count == free { continue }
                await bell.wait(upTo: free > 0 ? await untilNextDue() : pollInterval)
            }
            await group.waitForAll()
        }
    }

    /// The poll interval, or less when a job comes due sooner (a retry, an
    /// expiring lease): no notification announces those.
    private func untilNextDue() async -> Duration {
        guard let due = try? await runner.storage.nextJobDue() else { return pollInterval }
        let wait = Duration.milliseconds(max(1, due.millisecondsSinceEpoch - runner.clock.now().millisecondsSinceEpoch))
        return min(wait, pollInterval)
    }

    /// Runs `job` while a heartbeat renews its lease every third of the lease.
    /// Nil when the attempt could not be recorded (the database is down): the
    /// lease then expires and another worker takes the job again.
    private func attemptWithHeartbeat(_ job: Job) async -> JobRunner.Outcome? {
        let runner = self.runner
        let beat = Duration.milliseconds(max(1, runner.leaseMilliseconds / 3))
        return await withTaskGroup(of: JobRunner.Outcome?.self) { group in
            group.addTask { [warn] in
                do {
                    return try await runner.attempt(job)
                } catch {
                    warn("job \(job.id): the attempt could not be recorded (\(error)); it runs again after its lease")
                    return nil
                }
            }
            group.addTask { [warn] in
                while (try? await Task.sleep(for: beat)) != nil {
                    let renewed = try? await runner.storage.renewJobLease(id: job.id, holder: runner.holder,
                                                                          now: runner.clock.now(),
                                                                          leaseMilliseconds: runner.leaseMilliseconds)
                    if renewed == false { warn("job \(job.id): its lease was lost; another worker may run it") }
                }
                return nil
            }
            let outcome = await group.next() ?? nil
            group.cancelAll()
            return outcome
        }
    }
}

/// Wakes one waiting task: rung by a finished job, a queued-job notification
/// or `stop`; a ring with nobody waiting is kept for the next wait.
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation: UInt64 = 0
    }
    private let state = Mutex(State())

    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when rung (or rung since the last wait), or after `timeout`.
    func wait(upTo timeout: Duration) async {
        await withCheckedContinuation { continuation in
            let generation = state.withLock { state -> UInt64? in
                if state.rung {
                    state.rung = false
                    return nil
                }
                state.generation += 1
                state.waiter = continuation
                return state.generation
            }
            guard let generation else { return continuation.resume() }
            Task {
                try? await Task.sleep(for: timeout)
                let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard state.generation == generation, let waiter = state.waiter else { return nil }
                    state.waiter = nil
                    return waiter
                }
                waiter?.resume()
            }
        }
    }
}
