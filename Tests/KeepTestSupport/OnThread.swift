import Foundation

/// Runs synchronous work that waits on async store work (`blocking`: Lua
/// host functions, the migration runner) on a thread of its own, as the CLI
/// does, without holding one of the few cooperative threads the awaited
/// work needs.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}
