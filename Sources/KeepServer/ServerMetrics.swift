import Foundation
import HTTPTypes
import KeepCore
import KeepRuntime
import Prometheus
import Synchronization

/// What `/metrics` exports (SPEC §8), in Prometheus' text format, from one
/// swift-prometheus registry per server:
///
/// - `keep_http_requests_total{operation, method, status}` and
///   `keep_http_request_duration_seconds{operation}` (a histogram): every
///   answer, by the route table's operation id (`unmatched` for a path or
///   method no route has), never by the raw path with its ids;
/// - `keep_jobs{state}`: the job queue by state, counted when scraped;
/// - `keep_database_up`: whether that count could be read;
/// - `keep_policy_version`, `keep_policy_reload_failures_total`,
///   `keep_policy_last_reload_failed` and
///   `keep_policy_runtime_failures_total{hook}`: `keep.policy.status()`.
///
/// The registry is the server's own, not swift-metrics' process-wide
/// factory: several servers in one process (the tests) keep apart.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let services: KeepServices
    private var requestDuration: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "keep", subsystem: "http", metricName: "request_duration", unitName: "seconds",
        helpText: "Time from a request's head to its answer, by operation id.")
    }
    private var requests: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "keep", subsystem: "http", metricName: "requests", unitName: "total",
        helpText: "Requests answered, by operation id, method and status.")
    }
    /// Counts read from `keep.policy.status()` that this registry's counters
    /// already hold, so that a scrape adds only what is new.
    private let exported = Mutex<(reloadFailures: Int, hooks: [String: Int])>((0, [:]))

    /// Latency buckets: 1 ms to 10 s.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .microseconds(2_500_000), .seconds(5),
        .seconds(10),
    ]

    /// The media type of the text format (version 0.0.4), as Prometheus asks for it.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public init(services: KeepServices) {
        self.services = services
    }

    /// The methods a series may name; any other a client sends is `other`
    /// (a method is any token: labels must not grow with what clients make up).
    static let methods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .delete, .patch, .options, .connect, .trace]

    /// The series one kind of answer counts into.
    private struct Series: Hashable {
        let operation: APIOperation?
        let method: String
        let status: Int
    }

    /// Series made so far, so that counting an answer is a dictionary
    /// lookup rather than a registry lookup of freshly built names and labels.
    private let series = Mutex<[Series: (requests: Counter, duration: DurationHistogram)]>([:])

    /// Counts one answer of `operation` (nil: no route matched).
    func record(_ operation: APIOperation?, method: HTTPRequest.Method, status: HTTPResponse.Status, duration: Duration) {
        let key = Series(operation: operation, method: Self.methods.contains(method) ? method.rawValue : "other", status: status.code)
        let metrics = series.withLock { made in
            if let metrics = made[key] { return metrics }
            let name = operation?.operationID ?? "unmatched"
            let metrics = (registry.makeCounter(descriptor: requests, labels: [("operation", name), ("method", key.method),
                                                                              ("status", String(key.status))]),
                           registry.makeDurationHistogram(descriptor: requestDuration, labels: [("operation", name)],
                                                          buckets: Self.durationBuckets))
            made[key] = metrics
            return metrics
        }
        metrics.requests.increment()
        metrics.duration.record(duration)
    }

    /// The exposition: the job and policy figures read now, then every metric.
    func exposition() async -> [UInt8] {
        await refreshJobs()
        refreshPolicies()
        return registry.emitToBuffer()
    }

    private func refreshJobs() async {
        let up = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "keep", subsystem: "database", metricName: "up", unitName: "",
            helpText: "1 when the last scrape could count the jobs, 0 when the database did not answer."))
        do {
            let counts = try await services.storage.jobCounts()
            let jobs = MetricNameDescriptor(namespace: "keep", metricName: "jobs", unitName: "",
                                            helpText: "Jobs in the queue by state (pending, running, done, dead).")
            for state in Job.State.allCases {
                registry.makeGauge(descriptor: jobs, labels: [("state", state.rawValue)]).set(Int64(counts[state] ?? 0))
            }
            up.set(Int64(1))
        } catch {
            up.set(Int64(0))
        }
    }

    private func refreshPolicies() {
        let status = services.policies.registry?.status
        registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "keep", subsystem: "policy", metricName: "version", unitName: "",
            helpText: "The policy set in force: 1 for the first load, one more for each successful reload; 0 without a policy folder."))
            .set(Int64(status?.version ?? 0))
        registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "keep", subsystem: "policy", metricName: "last_reload_failed", unitName: "",
            helpText: "1 while the last reload of the policy folder failed (the previous set stays in force)."))
            .set(Int64(status?.lastError == nil ? 0 : 1))
        let reloadFailures = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "keep", subsystem: "policy", metricName: "reload_failures", unitName: "total",
            helpText: "Reloads of the policy folder that failed since the server started."))
        let runtime = MetricNameDescriptor(
            namespace: "keep", subsystem: "policy", metricName: "runtime_failures", unitName: "total",
            helpText: "Policy hooks that failed at run time and fell back to the built-in default, by hook.")
        exported.withLock { exported in
            let failed = status?.reloadFailures ?? 0
            if failed > exported.reloadFailures { reloadFailures.increment(by: Int64(failed - exported.reloadFailures)) }
            exported.reloadFailures = max(failed, exported.reloadFailures)
            for failure in status?.failures ?? [] {
                let counter = registry.makeCounter(descriptor: runtime, labels: [("hook", failure.hook)])
                let known = exported.hooks[failure.hook] ?? 0
                if failure.count > known { counter.increment(by: Int64(failure.count - known)) }
                exported.hooks[failure.hook] = max(failure.count, known)
            }
        }
    }
}
