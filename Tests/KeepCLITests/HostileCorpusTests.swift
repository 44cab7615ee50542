import Foundation
import KeepTestSupport
import Testing

/// The hostile corpus (Tests/Fixtures/hostile) run through the built binary
/// as a user would run an untrusted script, with the audit's budgets: every
/// script ends as its first line announces, with a message on stderr, within
/// twice its time budget (as CPU time, which a busy machine does not stretch) and under 400 MB of resident memory, never by a signal.
@Suite struct HostileCorpusTests {
    static let directory = Checkout.fixtures.appendingPathComponent("hostile")

    static let budget = ["--sandbox", "--max-instructions", "200000000", "--max-memory", "64MiB", "--timeout", "5"]

    static func scripts() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".lua") }.sorted()
    }

    @Test(arguments: try scripts())
    func endsWithinItsBudget(_ name: String) throws {
        let source = try String(contentsOf: Self.directory.appendingPathComponent(name), encoding: .utf8)
        let expectation = String(source.prefix { $0 != "\n" }.dropFirst("-- expect: ".count))
        let work = try KeepBinary.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let script = Self.directory.appendingPathComponent(name).path
        let run = try MeasuredRun.run(["--db", work.appendingPathComponent("keep.sqlite").path, "--user", "tester", "run"] + Self.budget + [script], directory: work)
        #expect(run.signal == nil, "\(name) ended by signal \(run.signal ?? 0)")
        #expect(run.cpuTime < .seconds(10), "\(name) used \(run.cpuTime) of CPU (\(run.elapsed) in all)")
        #expect(run.peakMemory < 400 << 20, "\(name) peaked at \(run.peakMemory >> 20) MiB")
        switch expectation {
        case "ok":
            #expect(run.status == 0, "\(name): \(run.stderr)")
        case "limit":
            #expect(run.status == 1, "\(name) exited \(run.status): \(run.stdout)")
            #expect(run.stderr.hasPrefix("keep: limit: "), "\(name): \(run.stderr)")
        default:
            let wanted = String(expectation.dropFirst("error: ".count))
            #expect(run.status == 1, "\(name) exited \(run.status)")
            #expect(run.stderr.contains(wanted), "\(name): wanted '\(wanted)' in \(run.stderr)")
        }
    }
}
