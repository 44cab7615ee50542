import Foundation
import HTTPTypes
import KeepCore
import KeepServer
import KeepTestSupport
import Testing

/// `/metrics` in process, on every backend: requests by operation and
/// status, latency histograms, the job queue by state, the policy figures.
@Suite struct MetricsRouteTests {
    /// The samples of an exposition, by series as printed (`name{labels}`).
    struct Samples {
        var values: [String: Double] = [:]
        var text: String

        init(_ text: String) {
            self.text = text
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                values[String(line[..<space])] = value
            }
        }

        subscript(_ series: String) -> Double? { values[series] }
    }

    static func scrape(_ client: Client) async throws -> Samples {
        let answer = try await client.call(.get, "/metrics", as: nil)
        #expect(answer.status == 200)
        #expect(answer.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
        return Samples(answer.text)
    }

    @Test(arguments: BackendKind.allCases)
    func requestsAreCountedByOperationAndStatusNeverByTheirPath(_ kind: BackendKind) async throws {
        try await ServerHarness.make(kind).test { client in
            let id = try await client.create()
            #expect(try await client.call(.get, "/api/persistence/sessions/\(id)").status == 200)
            #expect(try await client.call(.get, "/api/persistence/sessions/\(id)").status == 200)
            #expect(try await client.call(.get, "/api/persistence/sessions/AAAAAAAAAAAA").status == 404)
            #expect(try await client.call(.get, "/api/persistence/sessions", as: nil).status == 401)
            #expect(try await client.call(.get, "/no/such/path/\(id)").status == 404)
            #expect(try await client.call(.patch, "/api/persistence/sessions/\(id)").status == 405)
            #expect(try await client.call(HTTPRequest.Method("BREW-\(id)")!, "/api/persistence/sessions").status == 405)
            let metrics = try await Self.scrape(client)
            #expect(metrics[#"keep_http_requests_total{operation="createSession",method="POST",status="200"}"#] == 1)
            #expect(metrics[#"keep_http_requests_total{operation="getSession",method="GET",status="200"}"#] == 2)
            #expect(metrics[#"keep_http_requests_total{operation="getSession",method="GET",status="404"}"#] == 1)
            #expect(metrics[#"keep_http_requests_total{operation="getSessionsMetadata",method="GET",status="401"}"#] == 1)
            #expect(metrics[#"keep_http_requests_total{operation="unmatched",method="GET",status="404"}"#] == 1)
            #expect(metrics[#"keep_http_requests_total{operation="unmatched",method="PATCH",status="405"}"#] == 1)
            #expect(metrics[#"keep_http_requests_total{operation="unmatched",method="other",status="405"}"#] == 1,
                    "a method a client makes up is not a label")
            #expect(metrics[#"keep_http_request_duration_seconds_count{operation="getSession"}"#] == 3)
            #expect(metrics[#"keep_http_request_duration_seconds_bucket{operation="getSession",le="+Inf"}"#] == 3)
            #expect(metrics.text.contains("# TYPE keep_http_request_duration_seconds histogram"))
            #expect(!metrics.text.contains(id), "no series names a path with its id")
            // A scrape counts itself after it answered: the next one sees it.
            let again = try await Self.scrape(client)
            #expect(again[#"keep_http_requests_total{operation="getMetrics",method="GET",status="200"}"#] == 1)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func theJobQueueIsCountedByStateWhenScraped(_ kind: BackendKind) async throws {
        let harness = try await ServerHarness.make(kind)
        let jobs = harness.services.jobs
        try await harness.test { client in
            let before = try await Self.scrape(client)
            for state in ["pending", "running", "done", "dead"] { #expect(before[#"keep_jobs{state="\#(state)"}"#] == 0, "\(state)") }
            #expect(before["keep_database_up"] == 1)
            let snapshot = try await client.create("snapshots")
            #expect(try await client.call(.delete, "/api/persistence/snapshots/\(snapshot)").status == 200)
            let queued = try await Self.scrape(client)
            #expect(queued[#"keep_jobs{state="pending"}"#] == 1, "the delete queued the log-marking job")
            _ = try await jobs.runDue()
            let ran = try await Self.scrape(client)
            #expect(ran[#"keep_jobs{state="pending"}"#] == 0 && ran[#"keep_jobs{state="done"}"#] == 1)
        }
    }

    @Test func policyVersionReloadFailuresAndRuntimeFailuresAreExported() async throws {
        let folder = try TemporaryDirectory.make("keep-metrics-policies")
        for file in try FileManager.default.contentsOfDirectory(atPath: Checkout.policies.path) where file.hasSuffix(".lua") {
            try FileManager.default.copyItem(at: Checkout.policies.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        let visits = folder.appendingPathComponent("visits.lua")
        try #"return { should_count = function() error("visits are broken") end }"#.write(to: visits, atomically: true, encoding: .utf8)
        let harness = try await ServerHarness.make(.sqlite, policies: folder.path)
        let registry = try #require(harness.services.policies.registry)
        try await harness.test { client in
            let first = try await Self.scrape(client)
            #expect(first["keep_policy_version"] == 1 && first["keep_policy_reload_failures_total"] == 0)
            #expect(first["keep_policy_last_reload_failed"] == 0)

            // A visit after the first asks visits.lua, which fails: the built-in rule decides, and the failure is counted.
            let snapshot = try await client.create("snapshots")
            for _ in 0 ..< 3 { #expect(try await client.call(.get, "/api/persistence/snapshots/\(snapshot)", as: "bob").status == 200) }
            let failing = try await Self.scrape(client)
            #expect(failing[#"keep_policy_runtime_failures_total{hook="visits.should_count"}"#] == 2)

            let validation = folder.appendingPathComponent("validation.lua")
            let good = try String(contentsOf: validation, encoding: .utf8)
            try "return {".write(to: validation, atomically: true, encoding: .utf8)
            registry.reload()
            let broken = try await Self.scrape(client)
            #expect(broken["keep_policy_version"] == 1 && broken["keep_policy_reload_failures_total"] == 1)
            #expect(broken["keep_policy_last_reload_failed"] == 1)

            try good.write(to: validation, atomically: true, encoding: .utf8)
            registry.reload()
            let fixed = try await Self.scrape(client)
            #expect(fixed["keep_policy_version"] == 2 && fixed["keep_policy_last_reload_failed"] == 0)
            #expect(fixed["keep_policy_reload_failures_total"] == 1, "a counter: the fix does not take the failure back")
            #expect(fixed[#"keep_policy_runtime_failures_total{hook="visits.should_count"}"#] == 2, "no new failure, no new count")
        }
    }
}
