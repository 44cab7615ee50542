import Hummingbird
import KeepCore
import KeepJSON
import KeepRuntime
import KeepStore

/// The handlers of the persistence API (SPEC §8): each reads the request,
/// calls the same service the Lua API calls, and writes the reference's
/// JSON shape. No domain rule lives here: ownership, validation, versions,
/// visits and jobs are the services'.
struct PersistenceRoutes: Sendable {
    let services: KeepServices
    let bodies: JSONBodyReader
    /// Called after a snapshot delete queued its job (wakes the in-process workers).
    let jobQueued: @Sendable () -> Void

    /// The handler of `operation`.
    func handler(for operation: APIOperation) -> @Sendable (Request, KeepRequestContext) async throws -> Response {
        switch operation {
        case .getSessionsMetadata: listSessions
        case .getSession: getSession
        case .getSessionMetadata: getSessionMetadata
        case .createSession: createSession
        case .updateSession: updateSession
        case .deleteSession: deleteSession
        case .getSnapshotsMetadata: listSnapshots
        case .getSnapshot: getSnapshot
        case .createSnapshot: createSnapshot
        case .deleteSnapshot: deleteSnapshot
        case .getSnapshotAccessLogs: listAccessLogs
        case .deleteSnapshotAccessLog: deleteAccessLog
        case .getHealth, .getReadiness, .getMetrics, .getOpenAPIDocument: { _, _ in throw HTTPError(.notFound) }
        }
    }

    // MARK: Sessions

    func listSessions(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        try await Self.listing(request, context) { user, parameters in
            try await services.sessions.list(as: user, try parameters.sessionQuery())
        } item: { writer, session throws(JSONError) in
            try writer.sessionMetadata(session.metadata)
        }
    }

    func getSession(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        let session = try await services.sessions.get(as: try context.actingUser(), id: try Self.sessionID(context))
        return try Self.document(session)
    }

    func getSessionMetadata(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        let metadata = try await services.sessions.metadata(as: try context.actingUser(), id: try Self.sessionID(context))
        return try Self.json(etag: metadata.version) { writer throws(JSONError) in try writer.sessionMetadata(metadata) }
    }

    func createSession(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        let user = try context.actingUser()
        let body = try await bodies.object(of: request)
        let title = try body.string("title"), content = try body.string("content")
        let description = try body.optionalString("description") ?? nil
        let session = try await services.sessions.create(as: user, title: title, description: description, content: content)
        return try Self.json(etag: session.version) { writer throws(JSONError) in try writer.string(session.id.rawValue) }
    }

    func updateSession(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        let user = try context.actingUser()
        let id = try Self.sessionID(context)
        let precondition = try EntityTag.precondition(request.headers)
        let body = try await bodies.object(of: request)
        var changes = SessionChanges(title: try body.optionalString("title").map { title throws(APIError) in
            guard let title else { throw JSONFields.invalid("title cannot be null; it is required", field: "title") }
            return title
        }, description: try body.optionalString("description"), content: try body.optionalString("content").map { content throws(APIError) in
            guard let content else { throw JSONFields.invalid("content cannot be null; send a string", field: "content") }
            return content
        })
        changes.expectedVersion = try await expectedVersion(precondition, user: user, id: id)
        let session = try await Self.conditional(changes.expectedVersion) {
            try await services.sessions.update(as: user, id: id, changes)
        }
        return try Self.document(session, sent: body.sentString("content"))
    }

    func deleteSession(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        let user = try context.actingUser()
        let id = try Self.sessionID(context)
        let expected = try await expectedVersion(try EntityTag.precondition(request.headers), user: user, id: id)
        try await Self.conditional(expected) { try await services.sessions.delete(as: user, id: id, expectedVersion: expected) }
        return Self.empty
    }

    /// The version a PUT or DELETE is conditional on: none without
    /// `If-Match` (428 when save.lua sets `require_if_match`) or with `*`;
    /// the one tag sent; or, among several, the current version when it is
    /// one of them. No current version matching answers 412.
    private func expectedVersion(_ precondition: EntityTag.Precondition, user: UserID, id: ResourceID) async throws -> Int64? {
        switch precondition {
        case .none:
            if services.policies.save.saveSettings.requireIfMatch {
                throw APIError(.preconditionRequired, type: "precondition_required",
                               "this server's save policy requires If-Match on changes; send the ETag of your last GET (or * to overwrite)")
            }
            return nil
        case .any:
            return nil
        case .versions(let versions):
            if versions.count == 1 { return versions.first }
            let current = try await services.sessions.get(as: user, id: id).version
            guard versions.contains(current) else {
                throw APIError.preconditionFailed("session \(id) is at version \(current), which If-Match does not name; GET it again and resend",
                                                  details: ["id": .text(id.rawValue), "version": .integer(current)])
            }
            return current
        }
    }

    /// `conflict` on a conditional request is a failed precondition (412).
    @discardableResult
    private static func conditional<T>(_ expected: Int64?, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as KeepError where error.code == .conflict && expected != nil {
            throw APIError.preconditionFailed(error.message, details: error.details)
        }
    }

    // MARK: Snapshots

    func listSnapshots(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        try await Self.listing(request, context) { user, parameters in
            try await services.snapshots.list(as: user, try parameters.snapshotQuery())
        } item: { writer, snapshot throws(JSONError) in
            try writer.snapshotMetadata(snapshot)
        }
    }

    func getSnapshot(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        let snapshot = try await services.snapshots.get(as: try context.actingUser(), id: try Self.snapshotID(context))
        return try Self.json(capacity: snapshot.content.utf8.count + 1024) { writer throws(JSONError) in
            try writer.document(content: snapshot.content) { writer throws(JSONError) in try writer.snapshotMetadata(snapshot) }
        }
    }

    func createSnapshot(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        let user = try context.actingUser()
        let body = try await bodies.object(of: request)
        let title = try body.string("title"), content = try body.string("content")
        let description = try body.optionalString("description") ?? nil
        let snapshot = try await services.snapshots.create(as: user, title: title, description: description, content: content)
        return try Self.json { writer throws(JSONError) in try writer.string(snapshot.id.rawValue) }
    }

    func deleteSnapshot(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        try await services.snapshots.delete(as: try context.actingUser(), id: try Self.snapshotID(context))
        jobQueued()
        return Self.empty
    }

    // MARK: Access logs

    func listAccessLogs(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        try await Self.listing(request, context) { user, parameters in
            try await services.snapshots.visits(as: user, try parameters.accessLogQuery())
        } item: { writer, log throws(JSONError) in
            try writer.accessLog(log)
        }
    }

    func deleteAccessLog(_ request: Request, _ context: KeepRequestContext) async throws -> Response {
        try await services.snapshots.removeVisit(as: try context.actingUser(), snapshotID: try Self.snapshotID(context))
        return Self.empty
    }

    // MARK: Reading and writing

    /// An id in the path; one that cannot be an id names nothing (404).
    private static func sessionID(_ context: KeepRequestContext) throws(APIError) -> ResourceID {
        try resourceID(context, "session_id", kind: "session")
    }

    private static func snapshotID(_ context: KeepRequestContext) throws(APIError) -> ResourceID {
        try resourceID(context, "snapshot_id", kind: "snapshot")
    }

    private static func resourceID(_ context: KeepRequestContext, _ name: String, kind: String) throws(APIError) -> ResourceID {
        let text = context.parameters.get(name) ?? ""
        do {
            return try ResourceID(text)
        } catch {
            throw APIError(.notFound, type: KeepError.Code.notFound.rawValue, "\(kind) \(text.prefix(40)) not found; \(error.message)",
                           details: ["id": .text(String(text.prefix(40)))])
        }
    }

    /// A page of a listing, from the query parameters (a bad one answers
    /// 400). An `invalid` from the service is about the query too (a page
    /// token from another query, or tampered with), so also 400.
    private static func listing<Item>(_ request: Request, _ context: KeepRequestContext,
                                      _ fetch: (UserID, ListParameters) async throws -> Page<Item>,
                                      item: (inout WireWriter, Item) throws(JSONError) -> Void) async throws -> Response {
        let user = try context.actingUser()
        let parameters = try ListParameters(query: request.uri.query)
        let page: Page<Item>
        do {
            page = try await fetch(user, parameters)
        } catch let error as KeepError where error.code == .invalid {
            throw APIError.badRequest(error.message, details: error.details)
        }
        return try json { writer throws(JSONError) in try writer.page(page, item: item) }
    }

    /// A whole session, with its version as the ETag.
    /// A session as GET and PUT answer it; `sent`: the content as a PUT sent it.
    private static func document(_ session: Session, sent: SentString? = nil) throws -> Response {
        try json(etag: session.version, capacity: session.content.utf8.count + 1024) { writer throws(JSONError) in
            try writer.document(content: session.content, sent: sent) { writer throws(JSONError) in
                try writer.sessionMetadata(session.metadata)
            }
        }
    }

    /// A 200 whose JSON body `write` writes; `capacity`: the bytes it is expected to take.
    static func json(etag version: Int64? = nil, capacity: Int = 512,
                     _ write: (inout WireWriter) throws(JSONError) -> Void) throws -> Response {
        var writer = WireWriter(capacity: capacity)
        try write(&writer)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if let version { headers[.eTag] = EntityTag.of(version: version) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: writer.body))
    }

    /// DELETE's answer: 200 with an empty body (as the reference).
    static var empty: Response { Response(status: .ok, headers: [.contentLength: "0"]) }
}
