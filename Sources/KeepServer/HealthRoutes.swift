import Foundation
import Hummingbird
import KeepCore
import KeepRuntime

/// The routes that need no user: `/healthz` (the process answers),
/// `/readyz` (the database answers a query; the policies in force, with
/// `keep.policy.status()`'s content: version, folder, files, when loaded,
/// the last reload error, failed reloads, the hooks that failed at run
/// time; 503 when the database does not answer), `/metrics` (Prometheus)
/// and `/api/openapi.json`.
struct HealthRoutes: Sendable {
    let services: KeepServices
    let metrics: ServerMetrics

    /// The handler of `operation`, one of those `isAuthenticated` is false for.
    func handler(for operation: APIOperation) -> @Sendable (Request, KeepRequestContext) async throws -> Response {
        switch operation {
        case .getHealth: health
        case .getReadiness: readiness
        case .getMetrics: metricsText
        case .getOpenAPIDocument: openAPIDocument
        default: { _, _ in throw HTTPError(.notFound) }
        }
    }

    func metricsText(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = ServerMetrics.contentType
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: await metrics.exposition())))
    }

    func openAPIDocument(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
    }

    func health(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        Self.json(["status": "ok"], status: .ok)
    }

    func readiness(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        var database: [String: Any] = ["backend": Self.backendName(services)]
        var ready = true
        do {
            _ = try await services.storage.nextJobDue()
            database["reachable"] = true
        } catch {
            ready = false
            database["reachable"] = false
            database["error"] = (error as? KeepError)?.description ?? "the database did not answer"
        }
        var policies: [String: Any] = ["loaded": true]
        if let status = services.policies.registry?.status {
            policies["version"] = status.version
            policies["directory"] = status.directory
            policies["files"] = status.files
            policies["loaded_at"] = status.loadedAt.iso8601
            policies["last_error"] = status.lastError ?? NSNull()
            policies["reload_failures"] = status.reloadFailures
            policies["failures"] = status.failures.map {
                ["hook": $0.hook, "count": $0.count, "last_message": $0.lastMessage, "last_at": $0.lastAt.iso8601] as [String: Any]
            }
        } else {
            policies["version"] = 0
            policies["directory"] = NSNull()
            policies["files"] = [String]()
            policies["last_error"] = NSNull()
            policies["reload_failures"] = 0
            policies["failures"] = [Any]()
        }
        let body: [String: Any] = ["status": ready ? "ready" : "unavailable", "database": database, "policies": policies]
        var response = Self.json(body, status: ready ? .ok : .serviceUnavailable)
        if !ready { response.headers[.retryAfter] = "1" }
        return response
    }

    private static func backendName(_ services: KeepServices) -> String {
        DatabaseLocation.isURL(services.configuration.database) ? "postgres" : "sqlite"
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
