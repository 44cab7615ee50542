import Foundation
import HTTPTypes
import KeepCore
import KeepServer
import KeepTestSupport
import Testing

/// The persistence routes in process, through the real services, on every backend.
@Suite struct PersistenceRouteTests {
    @Test(arguments: BackendKind.allCases)
    func sessionsRoundTripInTheReferenceShapes(_ kind: BackendKind) async throws {
        try await ServerHarness.make(kind).test { client in
            let id = try await client.create(title: "  Q3 ", content: #"{"a":1}"#)
            #expect(id.count == 12)
            let full = try await client.call(.get, "/api/persistence/sessions/\(id)")
            #expect(full.status == 200)
            #expect(full.headers[.eTag] == "\"1\"")
            let metadata = try #require(full.json["metadata"] as? [String: Any])
            #expect(Set(metadata.keys) == ["id", "ownerId", "title", "description", "createdAt", "updatedAt", "version", "contentHash"])
            #expect(metadata["description"] is NSNull, "absent fields are sent as null")
            #expect(metadata["ownerId"] as? String == "ana" && metadata["title"] as? String == "Q3")
            #expect(metadata["version"] as? Int == 1)
            #expect((metadata["createdAt"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
            #expect(full.json["content"] as? String == #"{"a":1}"#)
            let onlyMetadata = try await client.call(.get, "/api/persistence/sessions/metadata/\(id)")
            #expect(onlyMetadata.status == 200 && onlyMetadata.json["title"] as? String == "Q3" && onlyMetadata.headers[.eTag] == "\"1\"")

            let updated = try await client.call(.put, "/api/persistence/sessions/\(id)", json: #"{"description": "notes"}"#)
            #expect(updated.status == 200 && updated.headers[.eTag] == "\"2\"")
            #expect((updated.json["metadata"] as? [String: Any])?["description"] as? String == "notes")
            #expect(updated.json["content"] as? String == #"{"a":1}"#, "a partial update keeps the content")
            let cleared = try await client.call(.put, "/api/persistence/sessions/\(id)", json: #"{"description": null}"#)
            #expect((cleared.json["metadata"] as? [String: Any])?["description"] is NSNull)

            let list = try await client.call(.get, "/api/persistence/sessions")
            #expect(list.status == 200)
            #expect((list.json["items"] as? [[String: Any]])?.count == 1)
            #expect(list.json["pageToken"] is NSNull)

            let deleted = try await client.call(.delete, "/api/persistence/sessions/\(id)")
            #expect(deleted.status == 200 && deleted.text.isEmpty)
            #expect(try await client.call(.get, "/api/persistence/sessions/\(id)").status == 404)
        }
    }

    /// The answer's exact text: compact, keys sorted, strings escaped as
    /// JSON.stringify escapes them; a body's keys are read with their
    /// escapes decoded, and of a repeated key the last counts.
    @Test(arguments: BackendKind.allCases)
    func answersAreCompactSortedAndEscapedAsJSONStringify(_ kind: BackendKind) async throws {
        try await ServerHarness.make(kind).test { client in
            let id = try await client.create(title: #"Q "3" \ é/"#)
            let answer = try await client.call(.get, "/api/persistence/sessions/metadata/\(id)")
            let fields = answer.json
            let hash = try #require(fields["contentHash"] as? String), created = try #require(fields["createdAt"] as? String)
            let updated = try #require(fields["updatedAt"] as? String)
            #expect(answer.text == #"{"contentHash":"\#(hash)","createdAt":"\#(created)","description":null,"id":"\#(id)","ownerId":"ana","title":"Q \"3\" \\ é/","updatedAt":"\#(updated)","version":1}"#)
            #expect(answer.headers[.contentType] == "application/json; charset=utf-8")

            let put = try await client.call(.put, "/api/persistence/sessions/\(id)",
                                            json: #"{"t\u0069tle": "first", "title": "second", "content": "a\nb\u0001\u00e9\ud83d\ude00"}"#)
            #expect(put.status == 200, "\(put.text)")
            #expect((put.json["metadata"] as? [String: Any])?["title"] as? String == "second")
            #expect(put.text.hasPrefix(#"{"content":"a\nb\u0001é😀","metadata":{"#), "\(put.text.prefix(80))")
            // Escapes as Keep writes them are answered as sent; others as Keep writes them.
            let canonical = try await client.call(.put, "/api/persistence/sessions/\(id)", json: #"{"content": "x\"y\\z\n\u001f/é"}"#)
            #expect(canonical.text.hasPrefix(#"{"content":"x\"y\\z\n\u001f/é","metadata":{"#), "\(canonical.text.prefix(80))")
            let other = try await client.call(.put, "/api/persistence/sessions/\(id)", json: #"{"content": "x\/y\u001F\u0009"}"#)
            #expect(other.text.hasPrefix(#"{"content":"x/y\u001f\t","metadata":{"#), "\(other.text.prefix(80))")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func ownershipHidesSessionsAndOnlyTheOwnerDeletesASnapshot(_ kind: BackendKind) async throws {
        try await ServerHarness.make(kind).test { client in
            let session = try await client.create()
            let other = try await client.call(.get, "/api/persistence/sessions/\(session)", as: "bob")
            #expect(other.status == 404 && other.errorType == "not_found")
            #expect(try await client.call(.put, "/api/persistence/sessions/\(session)", as: "bob", json: "{}").status == 404)
            #expect(try await client.call(.delete, "/api/persistence/sessions/\(session)", as: "bob").status == 404)
            let snapshot = try await client.create("snapshots", title: "shared")
            let read = try await client.call(.get, "/api/persistence/snapshots/\(snapshot)", as: "bob")
            #expect(read.status == 200 && (read.json["metadata"] as? [String: Any])?["ownerId"] as? String == "ana")
            let forbidden = try await client.call(.delete, "/api/persistence/snapshots/\(snapshot)", as: "bob")
            #expect(forbidden.status == 403 && forbidden.errorType == "forbidden")
            let bobs = try await client.call(.get, "/api/persistence/snapshots", as: "bob")
            #expect((bobs.json["items"] as? [Any])?.isEmpty == true, "listing shows only one's own snapshots")
        }
    }

    @Test(arguments: BackendKind.allCases)
    func visitsAreLoggedOncePerIntervalAndADeleteMarksOtherVisitorsLogs(_ kind: BackendKind) async throws {
        let harness = try await ServerHarness.make(kind)
        let jobs = harness.services.jobs
        try await harness.test { client in
            let snapshot = try await client.create("snapshots", title: "shared")
            for _ in 0 ..< 3 { #expect(try await client.call(.get, "/api/persistence/snapshots/\(snapshot)", as: "bob").status == 200) }
            let logs = try await client.call(.get, "/api/persistence/snapshot_access_logs", as: "bob")
            let log = try #require((logs.json["items"] as? [[String: Any]])?.first)
            #expect(log["visits"] as? Int == 1, "visits within the interval do not count")
            #expect(log["visitorId"] as? String == "bob" && log["snapshotId"] as? String == snapshot)
            #expect(log["snapshotDeleted"] as? Bool == false)
            #expect((log["snapshotMetadata"] as? [String: Any])?["title"] as? String == "shared")

            #expect(try await client.call(.delete, "/api/persistence/snapshots/\(snapshot)").status == 200)
            // The delete queued the job and answered; no worker runs here, so run it.
            let outcomes = try await jobs.runDue()
            #expect(outcomes.count == 1 && outcomes.first?.error == nil)
            let marked = try await client.call(.get, "/api/persistence/snapshot_access_logs", as: "bob")
            #expect((marked.json["items"] as? [[String: Any]])?.first?["snapshotDeleted"] as? Bool == true)
            let hidden = try await client.call(.get, "/api/persistence/snapshot_access_logs?filter_snapshot_deleted=false", as: "bob")
            #expect((hidden.json["items"] as? [Any])?.isEmpty == true)
            #expect(try await client.call(.delete, "/api/persistence/snapshot_access_logs/\(snapshot)", as: "bob").status == 200)
            #expect(try await client.call(.delete, "/api/persistence/snapshot_access_logs/\(snapshot)", as: "bob").status == 404)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func pagingFollowsTokensToTheEnd(_ kind: BackendKind) async throws {
        try await ServerHarness.make(kind).test { client in
            var created: Set<String> = []
            for index in 0 ..< 5 { created.insert(try await client.create(title: "s\(index)")) }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let query = "page_size=2&sort_by=metadata.title&sort_direction=asc"
                    + (cursor.map { "&cursor=" + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! } ?? "")
                let page = try await client.call(.get, "/api/persistence/sessions?\(query)")
                try #require(page.status == 200, "\(page.text)")
                seen += (page.json["items"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
                cursor = page.json["pageToken"] as? String
            } while cursor != nil
            #expect(seen == ["s0", "s1", "s2", "s3", "s4"])
            let clamped = try await client.call(.get, "/api/persistence/sessions?page_size=1000")
            #expect(clamped.status == 200 && (clamped.json["items"] as? [Any])?.count == 5)
            #expect(try await client.call(.get, "/api/persistence/sessions?page_size=0").status == 200)
            let malformed = try await client.call(.get, "/api/persistence/sessions?page_size=ten")
            #expect(malformed.status == 400 && malformed.errorType == "invalid")
            #expect(try await client.call(.get, "/api/persistence/sessions?cursor=bogus").status == 400)
            #expect(try await client.call(.get, "/api/persistence/sessions?sort_by=owner").status == 400)
            #expect(try await client.call(.get, "/api/persistence/sessions?sort_direction=up").status == 400)
            #expect(try await client.call(.get, "/api/persistence/sessions?filter_created_from=yesterday").status == 400)
            let filtered = try await client.call(.get, "/api/persistence/sessions?filter_title=S3")
            #expect((filtered.json["items"] as? [[String: Any]])?.map { $0["title"] as? String } == ["s3"])
        }
    }

    @Test(arguments: BackendKind.allCases)
    func ifMatchIsHonouredOnPutAndDelete(_ kind: BackendKind) async throws {
        try await ServerHarness.make(kind).test { client in
            let id = try await client.create()
            let path = "/api/persistence/sessions/\(id)"
            func put(_ ifMatch: String?) async throws -> Answer {
                var headers = HTTPFields()
                if let ifMatch { headers[.ifMatch] = ifMatch }
                return try await client.call(.put, path, json: #"{"title": "t"}"#, headers: headers)
            }
            #expect(try await put("\"1\"").status == 200)
            let stale = try await put("\"1\"")
            #expect(stale.status == 412 && stale.errorType == "precondition_failed")
            #expect(try await put("W/\"2\"").status == 412, "weak tags never match")
            #expect(try await put("\"7\", \"2\"").status == 200, "one of several tags matches")
            #expect(try await put("*").status == 200)
            #expect(try await put("3").status == 400, "an unquoted tag is malformed")
            #expect(try await put("\"4\" \"5\"").status == 400)
            #expect(try await put(nil).status == 200, "without If-Match the last write wins")
            var headers = HTTPFields()
            headers[.ifMatch] = "\"1\""
            #expect(try await client.call(.delete, path, headers: headers).status == 412)
            #expect(try await client.call(.get, path).status == 200, "a failed conditional delete deletes nothing")
            let current = try #require(try await client.call(.get, path).headers[.eTag])
            headers[.ifMatch] = current
            #expect(try await client.call(.delete, path, headers: headers).status == 200)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func twoConcurrentConditionalPutsOfOneVersionGiveOne200AndOne412(_ kind: BackendKind) async throws {
        try await ServerHarness.make(kind).test { client in
            for round in 0 ..< 5 {
                let id = try await client.create(title: "race \(round)")
                let headers: HTTPFields = [.ifMatch: "\"1\""]
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for writer in 0 ..< 2 {
                        group.addTask {
                            try await client.call(.put, "/api/persistence/sessions/\(id)", json: #"{"content": "w\#(writer)"}"#,
                                                  headers: headers).status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.sorted() == [200, 412], "round \(round): \(statuses)")
            }
        }
    }

    @Test(arguments: BackendKind.allCases)
    func requestsThatCannotBeReadGetTheirOwnStatus(_ kind: BackendKind) async throws {
        try await ServerHarness.make(kind).test { client in
            let anonymous = try await client.call(.get, "/api/persistence/sessions", as: nil)
            #expect(anonymous.status == 401 && anonymous.errorType == "unauthorized")
            #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
            var wrong = HTTPFields()
            wrong[.authorization] = "Bearer not-a-token"
            let refused = try await client.call(.get, "/api/persistence/sessions", as: nil, headers: wrong)
            #expect(refused.status == 401 && refused.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
            wrong[.authorization] = "Basic YW5hOnB3"
            #expect(try await client.call(.get, "/api/persistence/sessions", as: nil, headers: wrong).status == 401)
            for malformed in ["Bearer", "Bearer ", "Bearertoken", "Bearer:\(ServerHarness.tokens["ana"]!)"] {
                wrong[.authorization] = malformed
                let answer = try await client.call(.get, "/api/persistence/sessions", as: nil, headers: wrong)
                #expect(answer.status == 401, "\(malformed.debugDescription)")
            }
            // The scheme in any case; spaces and tabs around the token.
            for accepted in ["bearer \(ServerHarness.tokens["ana"]!)", "BEARER \t \(ServerHarness.tokens["ana"]!) \t"] {
                var headers = HTTPFields()
                headers[.authorization] = accepted
                let answer = try await client.call(.get, "/api/persistence/sessions", as: nil, headers: headers)
                #expect(answer.status == 200, "\(accepted.debugDescription): \(answer.text)")
            }

            let sessions = "/api/persistence/sessions"
            let malformed = try await client.call(.post, sessions, json: #"{"title": "x", "content": "#)
            #expect(malformed.status == 400 && malformed.errorType == "invalid")
            let notJSON = try await client.call(.post, sessions, json: "title=x", contentType: "application/x-www-form-urlencoded")
            #expect(notJSON.status == 415 && notJSON.errorType == "unsupported_media_type")
            let missing = try await client.call(.post, sessions, json: #"{"title": "x"}"#)
            #expect(missing.status == 422 && missing.errorType == "invalid" && missing.errorMessage?.contains("content") == true)
            #expect(try await client.call(.post, sessions, json: #"{"title": 3, "content": ""}"#).status == 422)
            #expect(try await client.call(.post, sessions, json: #"["title"]"#).status == 422)
            let policy = try await client.call(.post, sessions, json: Client.encode(["title": String(repeating: "t", count: 51), "content": "{}"]))
            #expect(policy.status == 422 && policy.errorType == "invalid", "the default policy's title limit")
            let tooLarge = try await client.call(.post, sessions, json: Client.encode(["title": "big", "content": String(repeating: "x", count: 1_572_865)]))
            #expect(tooLarge.status == 413 && tooLarge.errorType == "too_large")
            #expect(tooLarge.errorMessage?.contains("1.50 MiB") == true, "the policy's message: \(tooLarge.errorMessage ?? "")")
            let overBody = try await client.call(.post, sessions, json: "\"" + String(repeating: " ", count: 9_600_000) + "\"")
            #expect(overBody.status == 413)
            let method = try await client.call(.patch, sessions)
            #expect(method.status == 405 && method.errorType == "method_not_allowed" && method.headers[.allow] == "GET, POST")
            let unknown = try await client.call(.get, "/api/persistence/nothing")
            #expect(unknown.status == 404 && unknown.errorType == "not_found")
            #expect(try await client.call(.get, "/api/persistence/sessions/not-an-id").status == 404)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func aContentOfOneAndAHalfMiBOfEscapesRoundTrips(_ kind: BackendKind) async throws {
        try await ServerHarness.make(kind).test { client in
            // Control characters are written \u00XX: six bytes each, the worst case.
            let unit = "\"\\\u{01}\u{1F}\n\t"
            let content = String(repeating: unit, count: 1_572_864 / unit.utf8.count)
                + String(repeating: "\u{02}", count: 1_572_864 % unit.utf8.count)
            #expect(content.utf8.count == 1_572_864)
            let id = try await client.create(content: content)
            let read = try await client.call(.get, "/api/persistence/sessions/\(id)")
            #expect(read.status == 200)
            #expect(read.json["content"] as? String == content)
        }
    }

    @Test func theSavePolicyCanRequireIfMatch() async throws {
        let policies = try TemporaryDirectory.make("keep-policies")
        for file in try FileManager.default.contentsOfDirectory(atPath: Checkout.policies.path) where file.hasSuffix(".lua") {
            try FileManager.default.copyItem(at: Checkout.policies.appendingPathComponent(file), to: policies.appendingPathComponent(file))
        }
        let save = policies.appendingPathComponent("save.lua")
        let text = try String(contentsOf: save, encoding: .utf8)
        try text.replacingOccurrences(of: "poll_interval_ms = 10000,", with: "poll_interval_ms = 10000,\n  require_if_match = true,")
            .write(to: save, atomically: true, encoding: .utf8)
        try await ServerHarness.make(.sqlite, policies: policies.path).test { client in
            let id = try await client.create()
            let required = try await client.call(.put, "/api/persistence/sessions/\(id)", json: "{}")
            #expect(required.status == 428 && required.errorType == "precondition_required")
            #expect(try await client.call(.delete, "/api/persistence/sessions/\(id)").status == 428)
            var headers = HTTPFields()
            headers[.ifMatch] = "\"1\""
            #expect(try await client.call(.put, "/api/persistence/sessions/\(id)", json: "{}", headers: headers).status == 200)
        }
    }
}
