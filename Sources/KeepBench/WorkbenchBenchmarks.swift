import Foundation
import KeepCore
import KeepLua
import KeepWorkbench

/// The working-copy engine's costs on a 1.5 MiB session document, each beside
/// an anchor of the same run: a journal entry against writing and fsyncing the
/// same bytes raw; a three-way merge against decoding its three inputs with
/// `json.decode` (about lua-cjson's speed, see the JSON table).
func workbenchBenchmarks() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keep-bench-workbench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }

    // Dashboards of modules, as scripts/bench/session_document.lua writes them (compact, about 1.5 MiB).
    func document(renaming dashboard: Int?, to name: String = "renamed") -> String {
        var dashboards: [String] = []
        for d in 0 ..< 140 {
            var modules: [String] = []
            for m in 0 ..< 8 {
                let points = (0 ..< 30).map { "{\"depth\":\(1500 + $0),\"value\":\(Double($0) * 1.25),\"flag\":\($0 % 7 == 0)}" }
                modules.append("{\"id\":\"m\(d)-\(m)\",\"kind\":\"WellLogViewer\",\"layout\":{\"h\":4,\"w\":6,\"x\":0,\"y\":\(m)},\"data\":[\(points.joined(separator: ","))]}")
            }
            let title = d == dashboard ? name : "dashboard \(d)"
            dashboards.append("{\"id\":\"d\(d)\",\"name\":\"\(title)\",\"modules\":[\(modules.joined(separator: ","))]}")
        }
        return "{\"dashboards\":[\(dashboards.joined(separator: ","))],\"version\":3}"
    }
    let base = document(renaming: nil)
    let ours = document(renaming: 3, to: "mine")
    let theirs = document(renaming: 100, to: "theirs")

    let journal = RecoveryJournal(root: directory.path + "/recovery", database: directory.path + "/keep.sqlite")
    let entry = RecoveryEntry(copyID: "benchCopy001", database: journal.database, user: "ana", sessionID: "benchSession",
                              title: "t", description: nil, content: ours,
                              base: .init(version: 1, hash: ContentHash(of: base), title: "t", description: nil, content: base),
                              modifiedAt: 0, processID: getpid())
    var writes: [Double] = []
    var rawWrites: [Double] = []
    let raw = directory.appendingPathComponent("raw.bin").path
    let bytes = Array((ours + base).utf8)
    for _ in 0 ..< 15 {
        var start = ContinuousClock.now
        try journal.write(entry)
        writes.append(milliseconds(ContinuousClock.now - start))
        start = ContinuousClock.now
        let descriptor = open(raw, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        fsync(descriptor)
        close(descriptor)
        rawWrites.append(milliseconds(ContinuousClock.now - start))
    }

    let lua = try LuaState()
    var merges: [Double] = []
    var parses: [Double] = []
    for _ in 0 ..< 15 {
        var start = ContinuousClock.now
        guard case .merged = ThreeWayMerge.merge(base: base, ours: ours, theirs: theirs) else {
            throw KeepError(.internal, "the benchmark's edits were expected to merge")
        }
        merges.append(milliseconds(ContinuousClock.now - start))
        start = ContinuousClock.now
        _ = try lua.execute("local a, b, c = ... json.decode(a) json.decode(b) json.decode(c)",
                            arguments: [.string(Array(base.utf8)), .string(Array(ours.utf8)), .string(Array(theirs.utf8))])
        parses.append(milliseconds(ContinuousClock.now - start))
    }
    print("| benchmark (\(ours.utf8.count) bytes) | keep | anchor | ratio | target |")
    print("|---|---|---|---|---|")
    let (entryTime, rawTime) = (median(writes), median(rawWrites))
    print("| journal entry (copy + base), median | \(format(entryTime)) ms | write + fsync of the same bytes: \(format(rawTime)) ms | \(format(entryTime / rawTime))× | < 200 ms (the debounce) |")
    let (mergeTime, parseTime) = (median(merges), median(parses))
    print("| three-way merge, two dashboards renamed, median | \(format(mergeTime)) ms | json.decode of the 3 inputs: \(format(parseTime)) ms | \(format(mergeTime / parseTime))× | < 100 ms |")
}
