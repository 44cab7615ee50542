import Foundation
import KeepCore
import KeepPolicy
import Synchronization
import Testing

/// Hot reload (SPEC §4), driven by calling `reload()` as the watcher would.
@Suite struct PolicyReloadTests {
    func write(_ folder: String, _ file: String, _ text: String) throws {
        try text.write(toFile: folder + "/" + file, atomically: true, encoding: .utf8)
    }

    func rejection(_ registry: PolicyRegistry, title: String = "t") -> String? {
        do {
            try registry.validate(candidate(title: title))
            return nil
        } catch {
            return error.message
        }
    }

    @Test func aValidEditTakesEffect() throws {
        let folder = try policyFolder()
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        #expect(rejection(registry, title: "a title of 20 chars!") == nil)
        try write(folder, "validation.lua", "return { rules = { short = function(doc) if #doc.title > 10 then return 'at most 10' end end } }")
        let status = registry.reload()
        #expect(status.version == 2 && status.lastError == nil)
        #expect(rejection(registry, title: "a title of 20 chars!") == "at most 10")
    }

    @Test(arguments: [
        ("validation.lua", "return { rules = { x = function( } }", "policies/validation.lua:1:"),
        ("validation.lua", "local x = nil\nreturn x.y", "policies/validation.lua:2: attempt to index a nil value"),
        ("retry.lua", "return { default = 5 }", "policies/retry.lua: default must be a function"),
        ("save.lua", "while true do end", "policies/save.lua: instruction budget"),
    ])
    func aBrokenEditKeepsThePreviousSetAndReportsTheError(file: String, text: String, expected: String) throws {
        let folder = try policyFolder()
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        let good = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
        try write(folder, file, text)
        let failed = registry.reload()
        #expect(failed.version == 1 && failed.reloadFailures == 1)
        #expect(failed.lastError?.contains(expected) == true, "\(failed.lastError ?? "no error")")
        #expect(rejection(registry, title: "   ") == "title is empty; give 1 to 50 characters", "the previous set still decides")
        try write(folder, file, good)
        let fixed = registry.reload()
        #expect(fixed.version == 2 && fixed.lastError == nil)
        #expect(fixed.reloadFailures == 1, "the count of failed reloads outlives the error it counted")
    }

    @Test func aDeletedFileKeepsThePreviousSet() throws {
        let folder = try policyFolder()
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        try FileManager.default.removeItem(atPath: folder + "/validation.lua")
        let status = registry.reload()
        #expect(status.version == 1 && status.lastError?.contains("policies/validation.lua is missing") == true)
        #expect(rejection(registry, title: "") == "title is empty; give 1 to 50 characters")
    }

    /// What the evaluators and the reloader of the test below observe of each other.
    final class Overlap: Sendable {
        struct Counts {
            var reloading = false, finished = false, overlapped = false
            var evaluations = 0, threadsDone = 0
            var messages = Set<String>()
        }
        let counts = Mutex(Counts())
    }

    /// Evaluators on their own threads (preempted by the system, so they overlap the
    /// reloads however few cores there are), reloading until they have been seen to.
    @Test func evaluationsDuringContinuousReloadsSeeOneWholeSet() throws {
        let folder = try policyFolder()
        func set(_ name: String) -> String {
            "return { rules = { a = function() return '\(name)' end, b = function() return '\(name)' end } }"
        }
        try write(folder, "validation.lua", set("A"))
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        let overlap = Overlap()
        for _ in 0 ..< 4 {
            Thread {
                while !overlap.counts.withLock({ $0.finished }) {
                    let before = overlap.counts.withLock { $0.reloading }
                    var message = ""
                    do throws(KeepError) { try registry.validate(candidate()) } catch { message = error.message }
                    overlap.counts.withLock { counts in
                        counts.evaluations += 1
                        counts.messages.insert(message)
                        if before || counts.reloading { counts.overlapped = true }
                    }
                }
                overlap.counts.withLock { $0.threadsDone += 1 }
            }.start()
        }
        // Each reload waits for an evaluation after the previous one: progress, not time.
        // It goes on until 40 reloads had an evaluation running while they swapped sets.
        func waitForAnEvaluation() {
            let evaluations = overlap.counts.withLock { $0.evaluations }
            while overlap.counts.withLock({ $0.evaluations }) == evaluations { sched_yield() }
        }
        var round = 0, overlappedReloads = 0
        while overlappedReloads < 40, round < 10_000 {
            waitForAnEvaluation()
            round += 1
            try write(folder, "validation.lua", set(round % 2 == 1 ? "B" : "A"))
            overlap.counts.withLock { $0.reloading = true; $0.overlapped = false }
            registry.reload()
            if overlap.counts.withLock({ $0.reloading = false; return $0.overlapped }) { overlappedReloads += 1 }
        }
        waitForAnEvaluation()
        overlap.counts.withLock { $0.finished = true }
        while overlap.counts.withLock({ $0.threadsDone }) < 4 { sched_yield() }
        let counts = overlap.counts.withLock { $0 }
        #expect(overlappedReloads >= 40, "evaluations overlapped \(overlappedReloads) of \(round) reloads")
        #expect(registry.status.version == round + 1)
        #expect(counts.messages == ["A; A", "B; B"], "every evaluation saw one whole set, and both sets: \(counts.messages)")
    }

    @Test func theWatcherReloadsWhenAFileIsSaved() throws {
        let folder = try policyFolder()
        let registry = try PolicyRegistry(directory: folder, clock: { now() })
        let watcher = try PolicyWatcher(registry: registry)
        defer { watcher.stop() }
        try write(folder, "validation.lua", "return { rules = { no = function() return 'changed' end } }")
        // inotify delivers the event asynchronously: wait for it, bounded generously
        // (a loaded machine delays the watcher's thread, not the outcome).
        let deadline = ContinuousClock.now + .seconds(30)
        while registry.status.version < 2 && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        #expect(registry.status.version >= 2)
        #expect(rejection(registry) == "changed")
    }
}
