import KeepCore
import KeepStore
import Synchronization

/// A clock a test moves by hand, so that leases, intervals and debounces
/// are driven by the test instead of waited for. With `stepPerRead`, every
/// reading moves it on (times then differ, and order, between two writes).
public final class TestClock: Sendable {
    private let current: Mutex<Int64>
    private let stepPerRead: Int64

    public init(start: Int64 = 1_795_761_694_000, stepPerRead: Int64 = 0) {
        current = Mutex(start)
        self.stepPerRead = stepPerRead
    }

    /// A clock that moves 1 ms each time it is read.
    public static func stepping() -> TestClock { TestClock(start: 1_795_761_694_123, stepPerRead: 1) }

    public func advance(milliseconds: Int64) { current.withLock { $0 += milliseconds } }

    public var now: Timestamp {
        Timestamp(millisecondsSinceEpoch: current.withLock { value in
            value += stepPerRead
            return value
        })
    }

    public var clock: KeepClock { KeepClock { [self] in now } }
}
