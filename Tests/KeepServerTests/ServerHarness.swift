import Foundation
import Hummingbird
import HummingbirdTesting
import KeepCore
import KeepRuntime
import KeepServer
import KeepTestSupport
import Logging
import Testing

/// The router of `keep serve` over a fresh database of `kind`, built as the
/// command builds it (KeepRuntime's services), answered in process.
/// Two users have static tokens: ana and bob.
struct ServerHarness {
    let services: KeepServices
    let router: Router<KeepRequestContext>
    let directory: URL

    static let tokens = ["ana": "ana-token-0123456789abcdef", "bob": "bob-token-0123456789abcdef"]

    /// `policies`: a policy folder (nil: the built-in defaults);
    /// `authenticator`: instead of the two static tokens.
    static func make(_ kind: BackendKind, policies: String? = nil, authenticator: Authenticator? = nil,
                     corsOrigins: [String] = []) async throws -> ServerHarness {
        let directory = try TemporaryDirectory.make("keep-server")
        let database = kind == .postgres ? try BackendKind.freshPostgresURL() : directory.appendingPathComponent("keep.sqlite").path
        let configuration = RuntimeConfiguration(database: database, policyDirectory: policies, holder: "test", warn: { _ in })
        // Opening PostgreSQL waits on async work: off the cooperative pool.
        let services = try await onThread { try KeepServices(configuration) }
        let file = directory.appendingPathComponent("tokens")
        try tokens.map { "\($0.value) \($0.key)" }.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let auth = try authenticator ?? Authenticator(tokens: StaticTokens(file: file.path))
        let server = ServerConfiguration(authenticator: auth, corsOrigins: corsOrigins, workers: 0, readTimeout: .seconds(30))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return ServerHarness(services: services, router: KeepServer.buildRouter(services: services, configuration: server, logger: logger),
                             directory: directory)
    }

    /// Runs `body` against the router, then closes the database.
    func test(_ body: @escaping @Sendable (Client) async throws -> Void) async throws {
        let app = Application(router: router)
        let services = self.services
        do {
            try await app.test(.router) { client in try await body(Client(client: client)) }
        } catch {
            try? await onThread { try services.close() }
            throw error
        }
        try await onThread { try services.close() }
    }
}

/// A request's answer, read.
struct Answer: Sendable {
    var status: Int
    var headers: HTTPFields
    var text: String

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }
    var errorType: String? { (json["error"] as? [String: Any])?["type"] as? String }
    var errorMessage: String? { (json["error"] as? [String: Any])?["message"] as? String }
    /// A JSON string body (create's answer: the id).
    var string: String? { try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? String }
}

/// Requests as ana or bob (or anyone with `headers`).
struct Client: Sendable {
    let client: any TestClientProtocol

    func call(_ method: HTTPRequest.Method, _ uri: String, as user: String? = "ana", json: String? = nil,
              contentType: String = "application/json", headers extra: HTTPFields = [:]) async throws -> Answer {
        var headers = extra
        if let user, let token = ServerHarness.tokens[user] { headers[.authorization] = "Bearer \(token)" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = contentType }
        let response = try await client.execute(uri: uri, method: method, headers: headers,
                                                body: json.map { ByteBuffer(string: $0) })
        return Answer(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
    }

    /// Creates a session (or a snapshot) as `user`; its id.
    func create(_ kind: String = "sessions", title: String = "Q3", content: String = "{}", as user: String = "ana") async throws -> String {
        let answer = try await call(.post, "/api/persistence/\(kind)", as: user,
                                    json: Self.encode(["title": title, "description": nil, "content": content]))
        try #require(answer.status == 200, "\(answer.text)")
        return try #require(answer.string)
    }

    /// A JSON object's text (nil values become null).
    static func encode(_ object: [String: String?]) -> String {
        let value = object.mapValues { $0.map { $0 as Any } ?? NSNull() }
        return String(decoding: try! JSONSerialization.data(withJSONObject: value), as: UTF8.self)
    }
}
