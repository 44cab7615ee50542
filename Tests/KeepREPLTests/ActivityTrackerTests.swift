import KeepCore
import KeepREPL
import Testing

@Suite struct ActivityTrackerTests {
    @Test func keystrokesMakeActiveAndIdlenessVisibleThenHidden() {
        var tracker = ActivityTracker(now: 0)
        #expect(tracker.state == .active)
        #expect(tracker.nextChange() == ActivityTracker.visibleAfterMilliseconds)
        #expect(tracker.tick(at: 29_999) == nil)
        #expect(tracker.tick(at: 30_000) == .visible)
        #expect(tracker.tick(at: 31_000) == nil)
        #expect(tracker.nextChange() == ActivityTracker.hiddenAfterMilliseconds)
        #expect(tracker.tick(at: 600_000) == .hidden)
        #expect(tracker.nextChange() == nil)
        #expect(tracker.keystroke(at: 700_000) == .active)
        #expect(tracker.keystroke(at: 700_001) == nil)
        #expect(tracker.nextChange() == 730_001)
    }

    @Test func focusOutHidesUntilFocusInOrAKey() {
        var tracker = ActivityTracker(now: 0)
        #expect(tracker.focus(true, at: 5) == nil, "focus in without a focus out (reported at every prompt) changes nothing")
        #expect(tracker.state == .active)
        #expect(tracker.focus(false, at: 10) == .hidden)
        #expect(tracker.tick(at: 20) == nil)
        #expect(tracker.focus(true, at: 30) == .visible)
        #expect(tracker.tick(at: 40) == nil, "visible stays visible while the pause is short")
        #expect(tracker.focus(false, at: 50) == .hidden)
        #expect(tracker.keystroke(at: 60) == .active, "typing means the terminal has focus")
        #expect(tracker.tick(at: 70) == nil)
    }
}
