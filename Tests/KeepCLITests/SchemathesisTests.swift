import Foundation
import KeepTestSupport
import Testing

/// The built `keep serve` against its own `/api/openapi.json`, by
/// schemathesis (from PyPI; scripts/setup.sh installs it): generated
/// requests, valid and not, to every operation, and every answer checked —
/// no 5xx, each status, media type and body as the document says.
/// Bounded: a fixed seed and a few examples per operation.
@Suite struct SchemathesisTests {
    /// Examples per operation and phase: enough to reach every status the
    /// document lists, few enough to finish in well under two minutes on two cores.
    static let maxExamples = 40

    /// `python3 -m schemathesis.cli ARGUMENTS` (where scripts/setup.sh installs it), run to its end.
    static func schemathesis(_ arguments: [String], in directory: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "schemathesis.cli"] + arguments
        process.currentDirectoryURL = directory
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test(arguments: BackendKind.allCases)
    func everyAnswerConformsToTheDocumentAndNoneIsAServerError(_ kind: BackendKind) throws {
        let directory = try KeepBinary.temporaryDirectory()
        let installed = try Self.schemathesis(["--version"], in: directory)
        try #require(installed.status == 0, """
            schemathesis is not installed for python3: scripts/setup.sh installs it from PyPI \
            (python3 -m pip install schemathesis); this test does not pass without it. \(installed.output.suffix(500))
            """)
        let server = try ServeCommandTests.Server(kind)
        let run = try Self.schemathesis([
            "run", "http://127.0.0.1:\(server.port)/api/openapi.json",
            "--header", "Authorization: Bearer \(ServeCommandTests.tokens["ana"]!)",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples", String(Self.maxExamples), "--seed", "20261205", "--workers", "1",
            "--generation-database", "none", "--request-timeout", "60", "--no-color",
            "--report", "json", "--report-json-path", directory.appendingPathComponent("report.json").path,
        ], in: directory)
        #expect(run.status == 0, "schemathesis found answers that do not conform:\n\(run.output.suffix(12_000))")
        // It tested every operation of the document but the document's own
        // (schemathesis leaves out the URL it loaded the schema from), with many cases.
        let document = try server.call("GET", "/api/openapi.json", as: nil)
        let documented = (document.json["paths"] as? [String: [String: Any]] ?? [:]).values.reduce(0) { $0 + $1.count }
        let reportData = try Data(contentsOf: directory.appendingPathComponent("report.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: reportData) as? [String: Any], "the JSON report")
        let operations = report["operations"] as? [String: Any] ?? [:]
        #expect(operations["tested"] as? Int == documented - 1 && operations["errored"] as? Int == 0, "\(operations)")
        let cases = report["test_cases"] as? [String: Any] ?? [:]
        #expect((cases["generated"] as? Int ?? 0) >= 10 * documented && cases["with_failures"] as? Int == 0, "\(cases)")
        let metrics = try server.call("GET", "/metrics", as: nil).text
        #expect(!metrics.contains(#"status="5"#), "no 5xx was answered:\n\(metrics)")
        #expect(server.terminate() == (.exit, 0))
    }
}
