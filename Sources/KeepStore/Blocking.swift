#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import KeepCore
import Synchronization

/// Runs async store work from synchronous code — Lua host functions, the
/// migration runner — and returns its result.
///
/// Callers run on a thread of their own (the main thread for `keep run`),
/// never on Swift's cooperative pool. The work runs on that same thread
/// (`CallingThreadExecutor`): a call from Lua costs one wake-up when the
/// database answers, instead of hops to the pool and back, which for a
/// small read took longer than the read. For work that runs long and wants
/// both cores (a server, a job worker, a copy), use `blockingInPool`.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let executor = CallingThreadExecutor()
    let result = Mutex<Result<T, any Error>?>(nil)
    Task(executorPreference: executor) {
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await CallingThreadExecutor.$current.withValue(executor) { try await body() })
        } catch {
            outcome = .failure(error)
        }
        result.withLock { $0 = outcome }
        executor.finish()
    }
    executor.runUntilFinished()
    return try result.withLock { $0 }!.get()
}

/// Runs async work on Swift's shared pool and waits for it on this thread:
/// for work that runs long and uses both cores (`keep serve`, `keep jobs
/// work`, `keep db copy`).
public func blockingInPool<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    try TaskOutcome.start(body).wait()
}

/// A task executor whose jobs run on the thread that called `blocking`, while
/// it waits. Jobs that arrive after it finished (a continuation of an
/// unstructured task that outlived the call) run on the shared pool.
package final class CallingThreadExecutor: TaskExecutor, @unchecked Sendable {
    /// The executor of the `blocking` call the current task runs in.
    @TaskLocal package static var current: CallingThreadExecutor?

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var jobs: [UnownedJob] = []
    private var finished = false
    /// The thread that made it, which waits in `blocking` and runs its jobs.
    private let thread = pthread_self()

    /// Whether the caller runs on the thread that waits for this executor's
    /// task (false in a task started elsewhere that inherited it as `current`).
    package var isWaitingThread: Bool { pthread_equal(thread, pthread_self()) != 0 }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        if finished {
            condition.unlock()
            let executor = asUnownedTaskExecutor()
            DispatchQueue.global().async { job.runSynchronously(on: executor) }
            return
        }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Called by the task's last job, on the waiting thread.
    func finish() {
        condition.lock()
        finished = true
        condition.unlock()
    }

    /// Runs jobs as they come until `finish`.
    func runUntilFinished() {
        let executor = asUnownedTaskExecutor()
        condition.lock()
        while true {
            if jobs.isEmpty {
                if finished { break }
                condition.wait()
                continue
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: executor) }
            condition.lock()
        }
        // Jobs queued before `finish` but not yet run (none when the body's task ended last).
        let left = jobs
        jobs = []
        condition.unlock()
        for job in left { job.runSynchronously(on: executor) }
    }
}

/// Async work started from a synchronous thread, which waits for its result
/// later (`blocking` at once; the migration runner after preparing the next batch).
package final class TaskOutcome<T: Sendable>: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let result = Mutex<Result<T, any Error>?>(nil)

    private init() {}

    /// Runs `body` in a detached task.
    package static func start(_ body: @escaping @Sendable () async throws -> T) -> TaskOutcome<T> {
        let outcome = TaskOutcome()
        Task.detached {
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            outcome.result.withLock { $0 = result }
            outcome.done.signal()
        }
        return outcome
    }

    /// Blocks until the task has ended; its value, or the error it threw. Call it once.
    package func wait() throws -> T {
        done.wait()
        return try result.withLock { $0 }!.get()
    }
}
