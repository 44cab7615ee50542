import Foundation
import Testing
@testable import KeepREPL

/// History files, without a terminal (libedit then only keeps history).
@Suite struct LineEditorTests {
    @Test func historyKeepsTheLast1000EntriesWithMultiLineEntriesWhole() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keep-history-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let editor = LineEditor(historyPath: path) { _ in Completer.Completion(prefix: "", candidates: []) }
        for index in 0 ..< 1005 { #expect(editor.remember("entry \(index)")) }
        editor.remember("entry 1004")  // a repeat of the last entry is not kept twice
        editor.remember("for i = 1, 2 do\n  print(i)\nend")
        editor.remember("   ")

        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        // libedit's header line, then one line an entry (blanks and newlines escaped):
        // "entry 0" … "entry 5" made room for the last ones.
        #expect(lines.count == 1 + 1000)
        #expect(lines[0] == "_HiStOrY_V2_")
        #expect(lines[1] == #"entry\0406"#)
        #expect(lines[999] == #"entry\0401004"#)
        #expect(lines[1000] == #"for\040i\040=\0401,\0402\040do\012\040\040print(i)\012end"#)

        let reloaded = LineEditor(historyPath: path) { _ in Completer.Completion(prefix: "", candidates: []) }
        reloaded.remember("after restart")
        let again = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(again.count == 1 + 1000)
        #expect(again[again.count - 2] == lines.last)
    }

    @Test func anEmptyHistoryFileIsUsed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keep-history-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let editor = LineEditor(historyPath: path) { _ in Completer.Completion(prefix: "", candidates: []) }
        #expect(editor.remember("1 + 1"))
    }

    @Test func aFileThatIsNotHistoryIsLeftAlone() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keep-history-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "precious notes\n".write(toFile: path, atomically: true, encoding: .utf8)
        let editor = LineEditor(historyPath: path) { _ in Completer.Completion(prefix: "", candidates: []) }
        #expect(!editor.remember("1 + 1"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious notes\n")
    }

    @Test func anUnwritableHistoryFileIsReportedNotFatal() {
        let editor = LineEditor(historyPath: "/nonexistent/dir/history") { _ in Completer.Completion(prefix: "", candidates: []) }
        #expect(!editor.remember("1 + 1"))
        #expect(!editor.remember("2 + 2"))
    }
}
