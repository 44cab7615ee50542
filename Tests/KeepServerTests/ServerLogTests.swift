#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeepServer
import Logging
import Testing

/// `keep serve`'s log lines: their layout, and that a buffered line is
/// written when flushed (a warning flushes at once).
@Suite struct ServerLogTests {
    /// A log whose output goes into a pipe this test reads.
    struct Capture {
        let pipe = Pipe()
        let output: LogOutput
        let logger: Logger

        init() {
            output = LogOutput(descriptor: pipe.fileHandleForWriting.fileDescriptor, interval: nil)
            logger = Logger(label: "keep.test") { [output] label in ServerLogHandler(label: label, output: output) }
        }

        /// What was written, or "" when nothing was within 10 seconds (a
        /// safety net: the tests flush before they look).
        func written() -> String {
            var descriptor = pollfd(fd: pipe.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 10_000) == 1 else { return "" }
            return String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        }
    }

    @Test func aLineHasTimeLevelLabelSortedFieldsSourceAndMessage() {
        let capture = Capture()
        capture.logger.info("request", metadata: ["status": "200", "method": "GET", "note": "two words", "quote": "a\"b=c\n"])
        capture.output.flush()
        let line = capture.written()
        let expected = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info keep\.test: method=GET note="two words" quote="a\\"b=c\\n" status=200 \[KeepServerTests\] request\n$/#
        #expect(line.firstMatch(of: expected) != nil, "\(line)")
    }

    @Test func aWarningIsWrittenAtOnceWithTheLinesBeforeIt() {
        let capture = Capture()
        capture.logger.info("first")
        capture.logger.warning("second")
        let lines = capture.written().split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasSuffix("] first") && lines[1].contains(" warning keep.test: [KeepServerTests] second"),
                "\(lines)")
    }
}
