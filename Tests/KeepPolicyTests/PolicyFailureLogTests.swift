import KeepCore
import KeepPolicy
import Synchronization
import Testing

/// Hooks that fail at run time fall back to the built-in default, and are
/// counted and warned about (issue 14, part 2).
@Suite struct PolicyFailureLogTests {
    /// A clock the test moves by hand, and the warnings the log gave.
    final class Recorder: Sendable {
        let time = Mutex<Int64>(1_795_761_694_000)
        let warnings = Mutex<[String]>([])

        func now() -> Timestamp { Timestamp(millisecondsSinceEpoch: time.withLock { $0 }) }
        func advance(milliseconds: Int64) { time.withLock { $0 += milliseconds } }
        var heard: [String] { warnings.withLock { $0 } }

        func log() -> PolicyFailureLog {
            PolicyFailureLog(clock: { self.now() }, warningIntervalMilliseconds: 60_000) { message in
                self.warnings.withLock { $0.append(message) }
            }
        }
    }

    static let raisingRetry = """
        return {
          default = function(attempt, err)
            error("no schedule today")
          end,
        }
        """

    @Test func aRaisingRetryScheduleFallsBackAndIsRecordedWithItsLine() throws {
        let recorder = Recorder()
        let registry = try PolicyRegistry(directory: try policyFolder(["retry.lua": Self.raisingRetry]),
                                          clock: { recorder.now() }, failures: recorder.log())
        #expect(registry.status.failures.isEmpty)
        #expect(registry.delay(kind: "mark_logs_deleted", attempt: 2, error: "x") == 2000)
        recorder.advance(milliseconds: 5)
        #expect(registry.delay(kind: "mark_logs_deleted", attempt: 1, error: "x") == 1000)
        let failures = registry.status.failures
        #expect(failures.map(\.hook) == ["retry.mark_logs_deleted"])
        #expect(failures.first?.count == 2)
        #expect(failures.first?.lastMessage.hasPrefix("policies/retry.lua:3: no schedule today") == true,
                "\(failures.first?.lastMessage ?? "none")")
        #expect(failures.first?.lastAt == recorder.now())
    }

    @Test func visitsAndPollWhenFailuresAreRecordedAndSurviveAReload() throws {
        let folder = try policyFolder([
            "visits.lua": "return { should_count = function(log, now) return log.nothing.here end }",
            "save.lua": "return { poll_when = function(activity) error('no polling today') end }",
        ])
        let recorder = Recorder()
        let registry = try PolicyRegistry(directory: folder, clock: { recorder.now() }, failures: recorder.log())
        let snapshot = Snapshot(id: ResourceID.generate(), owner: "ana", title: "t", description: nil, content: "{}",
                                hash: ContentHash(of: "{}"), createdAt: recorder.now())
        let log = AccessLog(visitor: "bo", snapshot: snapshot, at: recorder.now())
        // The built-in rule decides: a visit 6 minutes later counts, one a minute later does not.
        #expect(registry.shouldCount(log, now: Timestamp(millisecondsSinceEpoch: log.lastVisitedAt.millisecondsSinceEpoch + 360_000)))
        #expect(!registry.shouldCount(log, now: Timestamp(millisecondsSinceEpoch: log.lastVisitedAt.millisecondsSinceEpoch + 60_000)))
        #expect(registry.shouldPoll(.visible))
        #expect(!registry.shouldPoll(.hidden))
        registry.reload()
        #expect(registry.shouldPoll(.active))
        let failures = registry.status.failures
        #expect(failures.map(\.hook) == ["save.poll_when", "visits.should_count"])
        #expect(failures.map(\.count) == [3, 2])
        #expect(failures.last?.lastMessage.hasPrefix("policies/visits.lua:1: attempt to index a nil value") == true,
                "\(failures.last?.lastMessage ?? "none")")
    }

    @Test func warningsAreRateLimitedPerHookByTheInjectedClock() throws {
        let recorder = Recorder()
        let registry = try PolicyRegistry(directory: try policyFolder(["retry.lua": Self.raisingRetry]),
                                          clock: { recorder.now() }, failures: recorder.log())
        _ = registry.delay(kind: "mark_logs_deleted", attempt: 1, error: "x")
        #expect(recorder.heard.count == 1)
        #expect(recorder.heard.first?.hasPrefix(
            "policy retry.mark_logs_deleted failed, using the built-in retry schedule: policy: policies/retry.lua:3: no schedule today") == true,
                "\(recorder.heard)")
        // Within the minute: counted, not warned; another hook warns on its own.
        recorder.advance(milliseconds: 59_999)
        _ = registry.delay(kind: "mark_logs_deleted", attempt: 1, error: "x")
        _ = registry.delay(kind: "mark_logs_deleted", attempt: 1, error: "x")
        _ = registry.delay(kind: "record_visit", attempt: 1, error: "x")
        #expect(recorder.heard.count == 2)
        #expect(recorder.heard.last?.hasPrefix("policy retry.record_visit failed") == true)
        // A minute after the last warning: warned again, with what was not.
        recorder.advance(milliseconds: 1)
        _ = registry.delay(kind: "mark_logs_deleted", attempt: 1, error: "x")
        #expect(recorder.heard.count == 3)
        #expect(recorder.heard.last?.hasSuffix("(and 2 more times since the last warning)") == true, "\(recorder.heard)")
        #expect(registry.status.failures.map(\.count) == [4, 1])
    }

    @Test func aPolicyThatWorksRecordsNothing() throws {
        let recorder = Recorder()
        let registry = try PolicyRegistry(directory: try policyFolder(), clock: { recorder.now() }, failures: recorder.log())
        #expect(registry.delay(kind: "mark_logs_deleted", attempt: 1, error: "x") == 1000)
        #expect(registry.shouldPoll(.active))
        #expect(registry.status.failures.isEmpty && recorder.heard.isEmpty)
    }
}
