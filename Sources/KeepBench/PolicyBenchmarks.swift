import Foundation
import KeepCore
import KeepPolicy

/// The cost of one validation call with the shipped rules (small and 1.4 MiB
/// content), and the time from saving a policy file to the new set being active.
func policyBenchmarks() throws {
    guard let shipped = findShippedPolicies() else {
        print("(scripts/policies not found; policy benchmarks skipped)")
        return
    }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keep-bench-policies-\(UUID().uuidString)")
    try FileManager.default.copyItem(atPath: shipped, toPath: folder.path)
    defer { try? FileManager.default.removeItem(at: folder) }
    let clock: @Sendable () -> Timestamp = { Timestamp(millisecondsSinceEpoch: 0) }
    let policies = try PolicySet(directory: folder.path, clock: clock)

    func candidate(_ content: String) -> DocumentCandidate {
        DocumentCandidate(kind: .session, operation: .create, owner: "ana", title: "Q3 review", description: "numbers",
                          content: content)
    }
    let small = candidate("{\"dashboards\":[]}")
    let big = candidate(String(repeating: "{\"k\":\"0123456789abcdef\"},", count: 1_468_006 / 25))
    let calls = 20_000
    let smallCost = median(runs: 9, operations: calls) { for _ in 0 ..< calls { try? policies.validate(small) } }
    let bigCost = median(runs: 9, operations: 2_000) { for _ in 0 ..< 2_000 { try? policies.validate(big) } }
    print("| benchmark | keep | anchor | ratio | target |")
    print("|---|---|---|---|---|")
    print("| validation call, shipped rules, small session | \(format(smallCost / 1000)) µs | — | — | ≤ 5 µs |")
    print("| validation call, shipped rules, 1.4 MiB session | \(format(bigCost / 1000)) µs | small session: \(format(smallCost / 1000)) µs | \(format(bigCost / smallCost))× | content not copied |")

    // Two threads at once on one set: evaluations serialize on the set's lock.
    let perThread = 20_000
    let twoThreads = median(runs: 5, operations: 2 * perThread) {
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            for _ in 0 ..< perThread { try? policies.validate(small) }
        }
    }
    print("| validation call, 2 threads on one set (lock) | \(format(twoThreads / 1000)) µs per call | 1 thread: \(format(smallCost / 1000)) µs | \(format(twoThreads / smallCost))× | (informative) |")

    // Save → active: write validation.lua, wait for the watcher's reload.
    let registry = try PolicyRegistry(directory: folder.path, clock: clock)
    let watcher = try PolicyWatcher(registry: registry)
    defer { watcher.stop() }
    let source = try String(contentsOfFile: shipped + "/validation.lua", encoding: .utf8)
    var latencies: [Double] = []
    for round in 0 ..< 21 {
        let before = registry.status.version
        let start = ContinuousClock.now
        try (source + "\n-- edit \(round)\n").write(toFile: folder.path + "/validation.lua", atomically: true, encoding: .utf8)
        while registry.status.version == before && ContinuousClock.now - start < .seconds(5) { usleep(200) }
        latencies.append(milliseconds(ContinuousClock.now - start))
        usleep(30_000)  // let the burst window of this edit close
    }
    print("| save → new policy set active (inotify, median of 21) | \(format(median(latencies))) ms | — | — | ≤ 100 ms |")
}

func findShippedPolicies() -> String? {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
    for _ in 0 ..< 6 {
        if FileManager.default.fileExists(atPath: directory + "/scripts/policies/validation.lua") { return directory + "/scripts/policies" }
        directory = (directory as NSString).deletingLastPathComponent
    }
    let here = FileManager.default.currentDirectoryPath + "/scripts/policies"
    return FileManager.default.fileExists(atPath: here + "/validation.lua") ? here : nil
}
