import Foundation
import HTTPTypes
import KeepCore

/// `/api/openapi.json` (SPEC §8): an OpenAPI 3.1 document of every route the
/// server answers, generated from the route table (`APIOperation`): each
/// operation's path, method and id come from it, and the switches below are
/// exhaustive, so a route cannot be added without its description. Names
/// follow the reference system's document (FastAPI's): the operation ids,
/// the path parameters `session_id` and `snapshot_id`, the schema names
/// (`Page_SessionMetadata_` for `Page[SessionMetadata]`, `SessionSortBy`, …),
/// so that a client generated from either has the same functions and types.
enum OpenAPIDocument {
    /// The document's bytes (JSON, keys sorted).
    static let bytes: [UInt8] = {
        let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
        return Array(data ?? Data())
    }()

    static var document: [String: Any] {
        var paths: [String: [String: Any]] = [:]
        for operation in APIOperation.allCases {
            var item = paths[operation.path] ?? [:]
            item[operation.method.rawValue.lowercased()] = operation.openAPIOperation
            paths[operation.path] = item
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Keep",
                "version": "1",
                "description": "The persistence API of the reference workbench (sessions, snapshots, access logs) over Keep, "
                    + "with real status codes, ETag/If-Match and bearer authentication; and the service's health, "
                    + "readiness and metrics. See docs/http.md.",
            ],
            "paths": paths,
            "components": ["schemas": Schemas.all, "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]]],
        ]
    }
}

extension APIOperation {
    var openAPIOperation: [String: Any] {
        var object: [String: Any] = [
            "operationId": operationID,
            "summary": summary,
            "tags": [isAuthenticated ? "persistence" : "operations"],
            "security": isAuthenticated ? [["bearer": [String]()]] : [[String: [String]]](),
        ]
        let parameters = pathParameters + queryParameters + headerParameters
        if !parameters.isEmpty { object["parameters"] = parameters }
        if let body = requestBodySchema {
            object["requestBody"] = ["required": true, "content": ["application/json": ["schema": Schemas.reference(body)]]]
        }
        var responses: [String: Any] = ["200": success]
        for status in errorStatuses { responses[String(status.code)] = OpenAPIDocument.errorResponse(status) }
        if self == .getReadiness {
            responses["503"] = ["description": "The database did not answer (Retry-After: 1)",
                                "headers": ["Retry-After": ["description": "Seconds to wait", "schema": ["type": "string"]]],
                                "content": ["application/json": ["schema": Schemas.readiness(ready: false)]]]
        }
        object["responses"] = responses
        return object
    }

    private var summary: String {
        switch self {
        case .getSessionsMetadata: "A page of your sessions' metadata"
        case .getSession: "A session of yours, with its content (ETag: its version)"
        case .getSessionMetadata: "A session's metadata (ETag: its version)"
        case .createSession: "Create a session; answers its id"
        case .updateSession: "Change a session's title, description or content (If-Match: a version)"
        case .deleteSession: "Delete a session (If-Match: a version)"
        case .getSnapshotsMetadata: "A page of your snapshots' metadata"
        case .getSnapshot: "A snapshot, anyone's, with its content (logs your visit)"
        case .createSnapshot: "Create a snapshot; answers its id"
        case .deleteSnapshot: "Delete a snapshot of yours (its visitors' logs are marked by a job)"
        case .getSnapshotAccessLogs: "A page of the snapshots you visited"
        case .deleteSnapshotAccessLog: "Remove a snapshot from the ones you visited"
        case .getHealth: "The process answers"
        case .getReadiness: "The database answers and the policies in force"
        case .getMetrics: "Metrics in Prometheus' text format"
        case .getOpenAPIDocument: "This document"
        }
    }

    /// The template's `{name}` segments.
    private var pathParameters: [[String: Any]] {
        path.split(separator: "/").filter { $0.hasPrefix("{") }.map { segment in
            let name = String(segment.dropFirst().dropLast())
            return ["name": name, "in": "path", "required": true, "schema": ["type": "string"],
                    "description": "The id of the \(name == "session_id" ? "session" : "snapshot"); one that names nothing (or another user's session) answers 404"]
        }
    }

    private var queryParameters: [[String: Any]] {
        func query(_ name: String, _ schema: [String: Any], _ description: String) -> [String: Any] {
            ["name": name, "in": "query", "required": false, "schema": schema, "description": description]
        }
        let time: [String: Any] = ["type": "string", "pattern": #"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z)?$"#]
        func times(_ name: String, _ what: String) -> [[String: Any]] {
            [query("filter_\(name)_from", time, "Only items \(what) at or after this UTC time (ISO-8601, or a date: its midnight)"),
             query("filter_\(name)_to", time, "Only items \(what) at or before this UTC time (ISO-8601, or a date: its midnight)")]
        }
        let sortSchema: String
        var filters: [[String: Any]]
        switch self {
        case .getSessionsMetadata:
            sortSchema = "SessionSortBy"
            filters = times("created", "created") + times("updated", "updated")
        case .getSnapshotsMetadata:
            sortSchema = "SnapshotSortBy"
            filters = times("created", "created") + times("updated", "created (a snapshot never changes)")
        case .getSnapshotAccessLogs:
            sortSchema = "SnapshotAccessLogSortBy"
            filters = times("created", "whose snapshot was created") + times("last_visited", "last visited") + [
                query("filter_owner_id", ["type": "string"], "Only snapshots of this owner"),
                query("filter_snapshot_deleted", ["type": "boolean"],
                      "true: only deleted snapshots' logs; false: only live ones'; absent: both"),
            ]
        default:
            return []
        }
        return [
            query("cursor", ["type": "string"], "The pageToken of the page before (bound to its query and user; another is 400)"),
            query("page_size", ["type": "integer", "default": PageSize.default],
                  "Items a page: 1 to \(PageSize.maximum), default \(PageSize.default); over \(PageSize.maximum) reads \(PageSize.maximum), under 1 the default; anything but a whole number is 400"),
            query("sort_by", Schemas.reference(sortSchema), "The field to sort by"),
            query("sort_direction", Schemas.reference("SortDirection"), "asc or desc (titles default to asc, the rest to desc)"),
            query("sort_lowercase", ["type": "boolean", "default": false], "Accepted; title sorts always ignore case"),
            query("filter_title", ["type": "string"], "Only titles that contain this, ignoring case"),
        ] + filters
    }

    private var headerParameters: [[String: Any]] {
        switch self {
        case .updateSession, .deleteSession:
            [["name": "If-Match", "in": "header", "required": false, "schema": ["type": "string"],
              "description": "* or the ETag of the version the change is made on (\"3\"); weak tags never match, a malformed header is 400, "
                  + "a version that is not current 412. Required (428) when the save policy sets require_if_match"]]
        default: []
        }
    }

    private var requestBodySchema: String? {
        switch self {
        case .createSession: "NewSession"
        case .updateSession: "SessionUpdate"
        case .createSnapshot: "NewSnapshot"
        default: nil
        }
    }

    /// The 200 answer.
    private var success: [String: Any] {
        func json(_ schema: [String: Any], _ description: String, etag: Bool = false) -> [String: Any] {
            var answer: [String: Any] = ["description": description, "content": ["application/json": ["schema": schema]]]
            if etag {
                answer["headers"] = ["ETag": ["description": "The session's version as a strong entity tag (\"3\")", "schema": ["type": "string"]]]
            }
            return answer
        }
        switch self {
        case .getSessionsMetadata: return json(Schemas.reference("Page_SessionMetadata_"), "A page; pageToken is null on the last")
        case .getSession, .updateSession: return json(Schemas.reference("Session"), "The session", etag: true)
        case .getSessionMetadata: return json(Schemas.reference("SessionMetadata"), "The session's metadata", etag: true)
        case .createSession, .createSnapshot: return json(["type": "string"], "The new id, a JSON string", etag: self == .createSession)
        case .getSnapshotsMetadata: return json(Schemas.reference("Page_SnapshotMetadata_"), "A page; pageToken is null on the last")
        case .getSnapshot: return json(Schemas.reference("Snapshot"), "The snapshot")
        case .getSnapshotAccessLogs: return json(Schemas.reference("Page_SnapshotAccessLog_"), "A page; pageToken is null on the last")
        case .deleteSession, .deleteSnapshot, .deleteSnapshotAccessLog: return ["description": "Deleted; the body is empty"]
        case .getHealth: return json(Schemas.health, "The process runs")
        case .getReadiness: return json(Schemas.readiness(ready: true), "The database answered a query")
        case .getMetrics:
            return ["description": "Prometheus' text format 0.0.4", "content": ["text/plain": ["schema": ["type": "string"]]]]
        case .getOpenAPIDocument: return json(["type": "object"], "An OpenAPI 3.1 document")
        }
    }

    /// Every error status the operation can answer.
    private var errorStatuses: [HTTPResponse.Status] {
        // Any authenticated operation: no or bad credentials; the database down or busy; a bug.
        let always: [HTTPResponse.Status] = [.unauthorized, .internalServerError, .serviceUnavailable]
        // A JSON body: malformed, slow, too large, not JSON, missing or mistyped fields or refused by a rule, or a limit policy.
        let body: [HTTPResponse.Status] = [.badRequest, .requestTimeout, .contentTooLarge, .unsupportedMediaType, .unprocessableContent,
                                           .tooManyRequests]
        let statuses: [HTTPResponse.Status]
        switch self {
        case .getSessionsMetadata, .getSnapshotsMetadata, .getSnapshotAccessLogs: statuses = always + [.badRequest]
        case .getSession, .getSessionMetadata, .getSnapshot, .deleteSnapshotAccessLog: statuses = always + [.notFound]
        case .createSession, .createSnapshot: statuses = always + body
        case .updateSession: statuses = always + body + [.notFound, .conflict, .preconditionFailed, .preconditionRequired]
        case .deleteSession: statuses = always + [.badRequest, .notFound, .conflict, .preconditionFailed, .preconditionRequired]
        case .deleteSnapshot: statuses = always + [.forbidden, .notFound]
        case .getHealth, .getReadiness, .getMetrics, .getOpenAPIDocument: statuses = []
        }
        return statuses.sorted { $0.code < $1.code }
    }
}

extension OpenAPIDocument {
    /// An error answer: `{"error": {"type", "message", "details"}}`, with the headers its status carries.
    static func errorResponse(_ status: HTTPResponse.Status) -> [String: Any] {
        var answer: [String: Any] = [
            "description": errorDescription(status),
            "content": ["application/json": ["schema": Schemas.reference("Error")]],
        ]
        switch status {
        case .unauthorized:
            answer["headers"] = ["WWW-Authenticate": ["description": "Bearer", "schema": ["type": "string"]]]
        case .tooManyRequests, .serviceUnavailable:
            answer["headers"] = ["Retry-After": ["description": "Seconds to wait before trying again", "schema": ["type": "string"]]]
        default: break
        }
        return answer
    }

    private static func errorDescription(_ status: HTTPResponse.Status) -> String {
        switch status {
        case .badRequest: "Malformed: the JSON, If-Match, page_size, a time, sort_by or a page token (type invalid)"
        case .unauthorized: "No or bad credentials (type unauthorized)"
        case .forbidden: "Not yours to delete (type forbidden)"
        case .notFound: "No such id, or another user's session (type not_found)"
        case .requestTimeout: "The body did not arrive in time (type request_timeout); the connection is closed"
        case .conflict: "The stored version moved while the change was made (type conflict)"
        case .preconditionFailed: "If-Match names no current version (type precondition_failed)"
        case .contentTooLarge: "The body, or the content, is over its limit (type too_large)"
        case .unsupportedMediaType: "The body is not JSON (type unsupported_media_type)"
        case .unprocessableContent: "A field is missing or mistyped, or a validation rule refused the write (type invalid or policy)"
        case .preconditionRequired: "The save policy requires If-Match (type precondition_required)"
        case .tooManyRequests: "A limit policy says to come back later (type limit)"
        case .serviceUnavailable: "The database is busy or down, or a policy ran out of budget (type unavailable or limit)"
        case .internalServerError: "A bug: the details name the request id to find the log line by (type internal)"
        default: status.reasonPhrase
        }
    }
}

/// The document's schemas: the reference's shapes (SPEC §8), as `Wire` writes them.
enum Schemas {
    static func reference(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }

    private static var string: [String: Any] { ["type": "string"] }
    private static var nullableString: [String: Any] { ["type": ["string", "null"]] }
    private static var time: [String: Any] { ["type": "string", "format": "date-time"] }

    private static func object(_ title: String, _ properties: [String: Any], optional: Set<String> = []) -> [String: Any] {
        ["title": title, "type": "object", "properties": properties,
         "required": properties.keys.filter { !optional.contains($0) }.sorted()]
    }

    private static func page(of item: String) -> [String: Any] {
        object("Page[\(item)]", ["items": ["type": "array", "items": reference(item)], "pageToken": nullableString])
    }

    static var all: [String: Any] {
        [
            "SessionMetadata": object("SessionMetadata", [
                "id": string, "ownerId": string, "title": string, "description": nullableString, "createdAt": time,
                "updatedAt": time, "version": ["type": "integer"], "contentHash": string,
            ]),
            "Session": object("Session", ["metadata": reference("SessionMetadata"), "content": string]),
            "SnapshotMetadata": object("SnapshotMetadata", [
                "id": string, "ownerId": string, "title": string, "description": nullableString, "createdAt": time, "contentHash": string,
            ]),
            "Snapshot": object("Snapshot", ["metadata": reference("SnapshotMetadata"), "content": string]),
            "SnapshotAccessLog": object("SnapshotAccessLog", [
                "visitorId": string, "snapshotId": string, "visits": ["type": "integer"], "firstVisitedAt": time,
                "lastVisitedAt": time, "snapshotDeleted": ["type": "boolean"], "snapshotMetadata": reference("SnapshotMetadata"),
            ]),
            "Page_SessionMetadata_": page(of: "SessionMetadata"),
            "Page_SnapshotMetadata_": page(of: "SnapshotMetadata"),
            "Page_SnapshotAccessLog_": page(of: "SnapshotAccessLog"),
            "NewSession": object("NewSession", ["title": string, "description": nullableString, "content": string],
                                 optional: ["description"]),
            "NewSnapshot": object("NewSnapshot", ["title": string, "description": nullableString, "content": string],
                                  optional: ["description"]),
            "SessionUpdate": object("SessionUpdate", ["title": string, "description": nullableString, "content": string],
                                    optional: ["title", "description", "content"]),
            "SessionSortBy": ["title": "SessionSortBy", "type": "string", "enum": ListParameters.sessionSortValues.map(\.key)],
            "SnapshotSortBy": ["title": "SnapshotSortBy", "type": "string", "enum": ListParameters.snapshotSortValues.map(\.key)],
            "SnapshotAccessLogSortBy": ["title": "SnapshotAccessLogSortBy", "type": "string",
                                        "enum": ListParameters.accessLogSortValues.map(\.key)],
            "SortDirection": ["title": "SortDirection", "type": "string", "enum": ["asc", "desc"]],
            "Error": object("Error", ["error": object("ErrorBody", [
                "type": string, "message": string, "details": ["type": "object"],
            ])]),
        ]
    }

    static var health: [String: Any] {
        object("Health", ["status": ["type": "string", "enum": ["ok"]]])
    }

    /// `/readyz`'s answer: 200 when the database answered, 503 (with its error) when not.
    static func readiness(ready: Bool) -> [String: Any] {
        object("Readiness", [
            "status": ["type": "string", "enum": [ready ? "ready" : "unavailable"]],
            "database": object("ReadinessDatabase", ["backend": ["type": "string", "enum": ["sqlite", "postgres"]],
                                                     "reachable": ["type": "boolean", "enum": [ready]], "error": string],
                               optional: ready ? ["error"] : []),
            "policies": object("ReadinessPolicies", [
                "loaded": ["type": "boolean"], "version": ["type": "integer"], "directory": nullableString,
                "files": ["type": "array", "items": string], "loaded_at": time, "last_error": nullableString,
                "reload_failures": ["type": "integer"], "failures": ["type": "array", "items": ["type": "object"]],
            ], optional: ["loaded_at"]),
        ])
    }
}
