import Dispatch
import KeepCore

/// Runs async store work from synchronous code: Lua host functions, the
/// migration runner.
///
/// Callers run on a thread of their own (the main thread for `keep run`),
/// never on Swift's cooperative pool, so waiting here blocks no task the
/// work depends on.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let semaphore = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task.detached {
        do {
            box.result = .success(try await body())
        } catch {
            box.result = .failure(error)
        }
        semaphore.signal()
    }
    semaphore.wait()
    return try box.result!.get()
}

/// Written by the task before it signals, read by the waiter after: the
/// semaphore orders the two accesses.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
