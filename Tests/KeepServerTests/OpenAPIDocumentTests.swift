import Foundation
import HTTPTypes
import KeepCore
import KeepServer
import KeepTestSupport
import Testing

/// `/api/openapi.json` in process: an OpenAPI 3.1 document whose routes are
/// the ones served, under the reference's operation ids. (Whether each
/// answer conforms to it is schemathesis' part: ServeCommandTests.)
@Suite struct OpenAPIDocumentTests {
    /// The reference's operation ids (SPEC §8), written out: a rename in the route table fails here.
    static let referenceOperations: [(id: String, method: String, path: String)] = [
        ("getSessionsMetadata", "get", "/api/persistence/sessions"),
        ("getSession", "get", "/api/persistence/sessions/{session_id}"),
        ("getSessionMetadata", "get", "/api/persistence/sessions/metadata/{session_id}"),
        ("createSession", "post", "/api/persistence/sessions"),
        ("updateSession", "put", "/api/persistence/sessions/{session_id}"),
        ("deleteSession", "delete", "/api/persistence/sessions/{session_id}"),
        ("getSnapshotsMetadata", "get", "/api/persistence/snapshots"),
        ("getSnapshot", "get", "/api/persistence/snapshots/{snapshot_id}"),
        ("createSnapshot", "post", "/api/persistence/snapshots"),
        ("deleteSnapshot", "delete", "/api/persistence/snapshots/{snapshot_id}"),
        ("getSnapshotAccessLogs", "get", "/api/persistence/snapshot_access_logs"),
        ("deleteSnapshotAccessLog", "delete", "/api/persistence/snapshot_access_logs/{snapshot_id}"),
    ]

    static func document(_ client: Client) async throws -> [String: Any] {
        let answer = try await client.call(.get, "/api/openapi.json", as: nil)
        try #require(answer.status == 200)
        #expect(answer.headers[.contentType]?.hasPrefix("application/json") == true)
        return try #require(try JSONSerialization.jsonObject(with: Data(answer.text.utf8)) as? [String: Any])
    }

    @Test func theDocumentIsOpenAPI31WithEveryRouteUnderItsOperationID() async throws {
        try await ServerHarness.make(.sqlite).test { client in
            let document = try await Self.document(client)
            #expect(document["openapi"] as? String == "3.1.0")
            let info = try #require(document["info"] as? [String: Any])
            #expect(info["title"] is String && info["version"] is String)
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])

            var documented: [String: (method: String, path: String)] = [:]
            for (path, item) in paths {
                for (method, value) in item {
                    let operation = try #require(value as? [String: Any], "\(method) \(path)")
                    let id = try #require(operation["operationId"] as? String, "\(method) \(path)")
                    #expect(documented[id] == nil, "operation id \(id) is used twice")
                    documented[id] = (method, path)
                    let responses = try #require(operation["responses"] as? [String: Any], "\(id)")
                    #expect(responses["200"] != nil, "\(id) documents its success")
                    for status in responses.keys { #expect(Int(status) != nil, "\(id): status \(status)") }
                    // Every {name} of the path is a required path parameter, and no other is.
                    let names = path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
                    let parameters = (operation["parameters"] as? [[String: Any]] ?? []).filter { $0["in"] as? String == "path" }
                    #expect(parameters.compactMap { $0["name"] as? String }.sorted() == names.sorted(), "\(id)")
                    #expect(parameters.allSatisfy { $0["required"] as? Bool == true }, "\(id)")
                }
            }
            for expected in Self.referenceOperations {
                let found = documented[expected.id]
                #expect(found?.method == expected.method && found?.path == expected.path, "\(expected.id): \(String(describing: found))")
            }
            #expect(Set(documented.keys) == Set(APIOperation.allCases.map(\.operationID)), "the document is the route table")

            // Every reference resolves.
            let text = String(decoding: try JSONSerialization.data(withJSONObject: document), as: UTF8.self)
            let references = text.matches(of: /"\$ref":"#\\\/components\\\/schemas\\\/([A-Za-z_]+)"/).map { String($0.1) }
            #expect(!references.isEmpty)
            for name in Set(references) { #expect(schemas[name] != nil, "$ref \(name)") }
            let sortBy = try #require(schemas["SessionSortBy"] as? [String: Any])
            #expect(Set(sortBy["enum"] as? [String] ?? []).isSuperset(of: ["metadata.created_at", "metadata.updated_at", "metadata.title"]))
        }
    }

    @Test func everyDocumentedOperationIsServed() async throws {
        try await ServerHarness.make(.sqlite).test { client in
            let document = try await Self.document(client)
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            for (path, item) in paths {
                for method in item.keys {
                    let concrete = path.replacing(/\{[a-z_]+\}/, with: "AAAAAAAAAAAA")
                    let answer = try await client.call(HTTPRequest.Method(method.uppercased())!, concrete,
                                                       json: ["post", "put"].contains(method) ? "{}" : nil)
                    #expect(answer.status != 405, "\(method) \(path) is documented but not served")
                    #expect(answer.errorMessage?.hasPrefix("no route") != true, "\(method) \(path) is documented but not served")
                    #expect(answer.status < 500, "\(method) \(path): \(answer.status) \(answer.text)")
                }
            }
        }
    }
}
