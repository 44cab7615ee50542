import KeepCore
import KeepWorkbench
import Testing

@Suite struct ActivityObserverTests {
    @Test func subscribersSeeEveryChangeInOrderAndNothingForARepeat() {
        let observer = ActivityObserver()
        var seen: [String] = []
        let first = observer.subscribe { new, old in
            seen.append("1:\(old.rawValue)>\(new.rawValue)")
            // A change made while delivering comes after this round.
            if new == .hidden { observer.set(.active) }
        }
        _ = observer.subscribe { new, old in seen.append("2:\(old.rawValue)>\(new.rawValue)") }
        observer.set(.visible)
        observer.set(.hidden)
        #expect(seen == ["1:visible>hidden", "2:visible>hidden", "1:hidden>active", "2:hidden>active"])
        first.cancel()
        first.cancel()
        observer.set(.visible)
        #expect(seen.last == "2:active>visible" && seen.count == 5)
        #expect(first.isCancelled && observer.subscriberCount == 1)
    }

    @Test func aSubscriberCancelledDuringARoundIsNotCalledInIt() {
        let observer = ActivityObserver()
        var calls = 0
        var second: ActivitySubscription?
        _ = observer.subscribe { _, _ in second?.cancel() }
        second = observer.subscribe { _, _ in calls += 1 }
        observer.set(.active)
        #expect(calls == 0)
    }
}
