import HTTPTypes

/// Every operation the server answers, with its method and path
/// (Hummingbird's syntax: `{id}` is a parameter). This table is the one list
/// of routes: the router is built from it, and an OpenAPI document or
/// per-route metrics can be generated from it. The persistence operations'
/// names are the reference system's operation ids (its front end's
/// generated client calls them by these names).
public enum APIOperation: String, CaseIterable, Sendable {
    case getSessionsMetadata, getSession, getSessionMetadata, createSession, updateSession, deleteSession
    case getSnapshotsMetadata, getSnapshot, createSnapshot, deleteSnapshot
    case getSnapshotAccessLogs, deleteSnapshotAccessLog
    case getHealth, getReadiness

    /// The prefix of the persistence API (SPEC §8).
    public static let persistencePrefix = "/api/persistence"

    public var operationID: String { rawValue }

    public var method: HTTPRequest.Method {
        switch self {
        case .getSessionsMetadata, .getSession, .getSessionMetadata, .getSnapshotsMetadata, .getSnapshot,
             .getSnapshotAccessLogs, .getHealth, .getReadiness: .get
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
        default: Self.persistencePrefix + persistencePath
        }
    }

    /// The path under `/api/persistence`.
    var persistencePath: String {
        switch self {
        case .getSessionsMetadata, .createSession: "/sessions"
        case .getSession, .updateSession, .deleteSession: "/sessions/{id}"
        case .getSessionMetadata: "/sessions/metadata/{id}"
        case .getSnapshotsMetadata, .createSnapshot: "/snapshots"
        case .getSnapshot, .deleteSnapshot: "/snapshots/{id}"
        case .getSnapshotAccessLogs: "/snapshot_access_logs"
        case .deleteSnapshotAccessLog: "/snapshot_access_logs/{snapshot_id}"
        case .getHealth, .getReadiness: ""
        }
    }

    /// Whether the operation needs an authenticated user (everything but health).
    public var isAuthenticated: Bool { self != .getHealth && self != .getReadiness }

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
