import Dispatch
import KeepCore
import Synchronization

/// Runs async store work from synchronous code: Lua host functions, the
/// migration runner.
///
/// Callers run on a thread of their own (the main thread for `keep run`),
/// never on Swift's cooperative pool, so waiting here blocks no task the
/// work depends on.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    try TaskOutcome.start(body).wait()
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
