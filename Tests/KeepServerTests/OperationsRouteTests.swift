import Foundation
import HTTPTypes
import JWTKit
import KeepCore
import KeepServer
import KeepTestSupport
import Testing

/// Health, request ids, CORS and JWT authentication, in process.
@Suite struct OperationsRouteTests {
    @Test func healthAndReadinessNeedNoCredentials() async throws {
        try await ServerHarness.make(.sqlite, policies: Checkout.policies.path).test { client in
            let health = try await client.call(.get, "/healthz", as: nil)
            #expect(health.status == 200 && health.json["status"] as? String == "ok")
            let ready = try await client.call(.get, "/readyz", as: nil)
            #expect(ready.status == 200 && ready.json["status"] as? String == "ready")
            #expect((ready.json["database"] as? [String: Any])?["reachable"] as? Bool == true)
            let policies = try #require(ready.json["policies"] as? [String: Any])
            #expect(policies["version"] as? Int == 1)
            #expect(policies["last_error"] is NSNull)
            #expect((policies["failures"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func requestIDsAreEchoedOrMadeUp() async throws {
        try await ServerHarness.make(.sqlite).test { client in
            var headers = HTTPFields()
            headers[HTTPField.Name("X-Request-Id")!] = "trace-42"
            let echoed = try await client.call(.get, "/api/persistence/sessions", headers: headers)
            #expect(echoed.headers[HTTPField.Name("X-Request-Id")!] == "trace-42")
            let made = try await client.call(.get, "/api/persistence/sessions/nothing")
            let id = try #require(made.headers[HTTPField.Name("X-Request-Id")!])
            #expect(id.count == 16)
        }
    }

    @Test func corsAnswersPreflightsOnlyForConfiguredOrigins() async throws {
        try await ServerHarness.make(.sqlite, corsOrigins: ["https://wb.example"]).test { client in
            var preflight = HTTPFields()
            preflight[.origin] = "https://wb.example"
            preflight[.accessControlRequestMethod] = "PUT"
            preflight[.accessControlRequestHeaders] = "if-match, content-type"
            let answer = try await client.call(.options, "/api/persistence/sessions/abc", as: nil, headers: preflight)
            #expect(answer.status == 204)
            #expect(answer.headers[.accessControlAllowOrigin] == "https://wb.example")
            #expect(answer.headers[.accessControlAllowHeaders]?.contains("If-Match") == true)
            var simple = HTTPFields()
            simple[.origin] = "https://wb.example"
            let id = try await client.create()
            let read = try await client.call(.get, "/api/persistence/sessions/\(id)", headers: simple)
            #expect(read.headers[.accessControlExposeHeaders]?.contains("ETag") == true)
            simple[.origin] = "https://elsewhere.example"
            let foreign = try await client.call(.get, "/api/persistence/sessions/\(id)", headers: simple)
            #expect(foreign.headers[.accessControlAllowOrigin] == nil)
        }
    }

    struct TestClaims: JWTPayload {
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var iss: IssuerClaim
        var aud: AudienceClaim
        var oid: String?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    @Test func jwtsAreCheckedForSignatureTimeIssuerAudienceAndUser() async throws {
        let key = ES256PrivateKey()
        let parameters = try #require(key.publicKey.parameters)
        let directory = try TemporaryDirectory.make("keep-jwks")
        let jwks = directory.appendingPathComponent("jwks.json")
        try #"{"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "k1", "use": "sig", "x": "\#(parameters.x)", "y": "\#(parameters.y)"}]}"#
            .write(to: jwks, atomically: true, encoding: .utf8)
        let verifier = try await JWTVerifier.load(keys: jwks.path, issuer: "https://issuer.example", audience: "keep-api")
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: key, kid: "k1")
        let stranger = JWTKeyCollection()
        await stranger.add(ecdsa: ES256PrivateKey(), kid: "k1")
        func token(exp: TimeInterval = 600, nbf: TimeInterval? = nil, iss: String = "https://issuer.example",
                   aud: String = "keep-api", oid: String? = "ana", with keys: JWTKeyCollection? = nil) async throws -> String {
            let claims = TestClaims(exp: ExpirationClaim(value: Date(timeIntervalSinceNow: exp)),
                                    nbf: nbf.map { NotBeforeClaim(value: Date(timeIntervalSinceNow: $0)) },
                                    iss: IssuerClaim(value: iss), aud: AudienceClaim(value: [aud]), oid: oid)
            return try await (keys ?? signer).sign(claims, kid: "k1")
        }
        let cases: [(String, Int)] = [
            (try await token(), 200),
            (try await token(exp: -60), 401),
            (try await token(nbf: 600), 401),
            (try await token(iss: "https://other.example"), 401),
            (try await token(aud: "another-api"), 401),
            (try await token(oid: nil), 401),
            (try await token(oid: " ana"), 401),
            (try await token(with: stranger), 401),
        ]
        try await ServerHarness.make(.sqlite, authenticator: Authenticator(jwt: verifier)).test { client in
            for (index, (jwt, status)) in cases.enumerated() {
                var headers = HTTPFields()
                headers[.authorization] = "Bearer \(jwt)"
                let answer = try await client.call(.get, "/api/persistence/sessions", as: nil, headers: headers)
                #expect(answer.status == status, "case \(index): \(answer.text)")
                if status == 401 { #expect(answer.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true) }
            }
        }
    }
}

/// How Keep's error codes become statuses (SPEC §8), for the codes no route test can provoke on demand.
@Suite struct ErrorMappingTests {
    @Test func retryableCodesSayWhenToComeBackAndInternalErrorsSayNothingOfTheirCause() {
        let busy = APIError(KeepError(.unavailable, "the database is busy"), requestID: "r1")
        #expect(busy.status == .serviceUnavailable && busy.headers[.retryAfter] == "1" && busy.type == "unavailable")
        let limited = APIError(KeepError(.limit, "too many saves; wait a minute", details: ["retry_after_seconds": 60]), requestID: "r2")
        #expect(limited.status == .tooManyRequests && limited.headers[.retryAfter] == "60" && limited.type == "limit")
        let budget = APIError(KeepError(.limit, "validation.lua: instruction budget exceeded"), requestID: "r3")
        #expect(budget.status == .serviceUnavailable)
        #expect(APIError(KeepError(.policy, "validation.lua:3: boom"), requestID: "r4").status == .unprocessableContent)
        #expect(APIError(KeepError(.conflict, "moved"), requestID: "r5").status == .conflict)
        let failure = APIError(KeepError(.internal, "SELECT content FROM sessions … secret content"), requestID: "r6")
        #expect(failure.status == .internalServerError && failure.type == "internal")
        #expect(!failure.message.contains("secret") && failure.message.contains("r6"))
        #expect(failure.details == ["request_id": "r6"])
    }
}
