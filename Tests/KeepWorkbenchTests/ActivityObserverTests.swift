import KeepCore
import KeepWorkbench
import Synchronization
import Testing

@Suite struct ActivityObserverTests {
    @Test func subscribersSeeEveryChangeInOrderAndNothingForARepeat() {
        let observer = ActivityObserver()
        let seen = Mutex<[String]>([])
        let first = observer.subscribe { new, old in
            seen.withLock { $0.append("1:\(old.rawValue)>\(new.rawValue)") }
            // A change made while delivering comes after this round.
            if new == .hidden { observer.set(.active) }
        }
        _ = observer.subscribe { new, old in seen.withLock { $0.append("2:\(old.rawValue)>\(new.rawValue)") } }
        observer.set(.visible)
        observer.set(.hidden)
        #expect(seen.withLock { $0 } == ["1:visible>hidden", "2:visible>hidden", "1:hidden>active", "2:hidden>active"])
        first.cancel()
        first.cancel()
        observer.set(.visible)
        #expect(seen.withLock { $0.last == "2:active>visible" && $0.count == 5 })
        #expect(first.isCancelled && observer.subscriberCount == 1)
    }

    @Test func aSubscriberCancelledDuringARoundIsNotCalledInIt() {
        let observer = ActivityObserver()
        let calls = Mutex(0)
        let second = Mutex<ActivitySubscription?>(nil)
        _ = observer.subscribe { _, _ in second.withLock { $0 }?.cancel() }
        let subscription = observer.subscribe { _, _ in calls.withLock { $0 += 1 } }
        second.withLock { $0 = subscription }
        observer.set(.active)
        #expect(calls.withLock { $0 } == 0)
    }
}
