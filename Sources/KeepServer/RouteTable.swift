import HTTPTypes

/// Every operation the server answers, with its method and path
/// (Hummingbird's syntax: `{session_id}` is a parameter). This table is the
/// one list of routes: the router is built from it, `/api/openapi.json` is
/// generated from it (`OpenAPIDocument`), and `/metrics` counts requests by
/// its operation ids. The persistence operations' names, and their path
/// parameters' names, are the reference system's (its front end's generated
/// client calls them by these names).
public enum APIOperation: String, CaseIterable, Sendable {
    case getSessionsMetadata, getSession, getSessionMetadata, createSession, updateSession, deleteSession
    case getSnapshotsMetadata, getSnapshot, createSnapshot, deleteSnapshot
    case getSnapshotAccessLogs, deleteSnapshotAccessLog
    case getHealth, getReadiness, getMetrics, getOpenAPIDocument

    /// The prefix of the persistence API (SPEC §8).
    public static let persistencePrefix = "/api/persistence"

    public var operationID: String { rawValue }

    public var method: HTTPRequest.Method {
        switch self {
        case .getSessionsMetadata, .getSession, .getSessionMetadata, .getSnapshotsMetadata, .getSnapshot,
             .getSnapshotAccessLogs, .getHealth, .getReadiness, .getMetrics, .getOpenAPIDocument: .get
        case .createSession, .createSnapshot: .post
        case .updateSession: .put
        case .deleteSession, .deleteSnapshot, .deleteSnapshotAccessLog: .delete
        }
    }

    /// The full path.
    public var path: String {
        switch self {
        case .getHealth: "/healthz"
        case .getReadiness: "/readyz"
        case .getMetrics: "/metrics"
        case .getOpenAPIDocument: "/api/openapi.json"
        default: Self.persistencePrefix + persistencePath
        }
    }

    /// The path under `/api/persistence`.
    var persistencePath: String {
        switch self {
        case .getSessionsMetadata, .createSession: "/sessions"
        case .getSession, .updateSession, .deleteSession: "/sessions/{session_id}"
        case .getSessionMetadata: "/sessions/metadata/{session_id}"
        case .getSnapshotsMetadata, .createSnapshot: "/snapshots"
        case .getSnapshot, .deleteSnapshot: "/snapshots/{snapshot_id}"
        case .getSnapshotAccessLogs: "/snapshot_access_logs"
        case .deleteSnapshotAccessLog: "/snapshot_access_logs/{snapshot_id}"
        case .getHealth, .getReadiness, .getMetrics, .getOpenAPIDocument: ""
        }
    }

    /// Whether the operation needs an authenticated user: the persistence
    /// API's; health, metrics and the OpenAPI document answer anyone.
    public var isAuthenticated: Bool {
        switch self {
        case .getHealth, .getReadiness, .getMetrics, .getOpenAPIDocument: false
        default: true
        }
    }

    /// The operation the router matched: `endpoint` is the route's template
    /// as Hummingbird reports it (`context.endpointPath`); nil for a path no
    /// route has (or a method the path does not take).
    static func matched(method: HTTPRequest.Method, endpoint: String?) -> APIOperation? {
        guard let endpoint else { return nil }
        return allCases.first { $0.method == method && $0.path == endpoint }
    }

    /// Whether `requested` (a request's path, without the query) is this
    /// operation's path, with any parameter values.
    func matches(path requested: Substring) -> Bool {
        let pattern = path.split(separator: "/")
        let parts = requested.split(separator: "/")
        guard pattern.count == parts.count else { return false }
        return zip(pattern, parts).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }

    /// The methods some operation allows at `path`, for a 405's `Allow` header.
    static func methods(allowedAt path: Substring) -> [HTTPRequest.Method] {
        var methods: [HTTPRequest.Method] = []
        for operation in allCases where operation.matches(path: path) && !methods.contains(operation.method) {
            methods.append(operation.method)
        }
        return methods
    }
}
