import Crypto
import Foundation
import HTTPTypes
import JWTKit
import KeepCore

/// Who a request acts as (SPEC §8 "Authentication"): a bearer token that is
/// one of the static API tokens (`--auth-tokens`) or a JWT signed by a key
/// of the JWK set (`--jwt-keys`), or, with neither sent, the development
/// user (`--dev-user`, loopback only). Every user id is checked as SPEC §1
/// says; a failure answers 401 with `WWW-Authenticate: Bearer`.
public struct Authenticator: Sendable {
    public var tokens: StaticTokens?
    public var jwt: JWTVerifier?
    public var devUser: UserID?

    public init(tokens: StaticTokens? = nil, jwt: JWTVerifier? = nil, devUser: UserID? = nil) {
        self.tokens = tokens
        self.jwt = jwt
        self.devUser = devUser
    }

    /// Whether any way to authenticate is configured.
    public var isConfigured: Bool { tokens != nil || jwt != nil || devUser != nil }

    /// The user `headers` authenticate.
    func user(for headers: HTTPFields) async throws(APIError) -> UserID {
        guard let authorization = headers[.authorization] else {
            if let devUser { return devUser }
            throw APIError.unauthorized("no credentials were sent; send Authorization: Bearer TOKEN", challenge: "Bearer")
        }
        guard let token = Self.bearerToken(authorization) else {
            throw APIError.unauthorized("the Authorization header is not a bearer token; send Authorization: Bearer TOKEN",
                                        challenge: "Bearer")
        }
        if let user = tokens?.user(for: token) { return user }
        if let jwt, token.utf8.count(where: { $0 == UInt8(ascii: ".") }) == 2 {
            return try await jwt.user(from: String(token))
        }
        throw APIError.unauthorized("the bearer token is not valid", challenge: #"Bearer error="invalid_token""#)
    }
}

extension Authenticator {
    /// The token of `Bearer TOKEN` (the scheme in any case, then spaces or
    /// tabs; spaces and tabs around the token dropped), or nil for another
    /// scheme or none. Read on the header's bytes: this runs on every request.
    static func bearerToken(_ header: String) -> Substring? {
        let scheme = "bearer".utf8
        let utf8 = header.utf8
        var index = utf8.startIndex
        for expected in scheme {
            guard index < utf8.endIndex, utf8[index] | 0x20 == expected else { return nil }
            index = utf8.index(after: index)
        }
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard index < utf8.endIndex, isBlank(utf8[index]) else { return nil }
        while index < utf8.endIndex, isBlank(utf8[index]) { index = utf8.index(after: index) }
        var end = utf8.endIndex
        while end > index, isBlank(utf8[utf8.index(before: end)]) { end = utf8.index(before: end) }
        guard index < end else { return nil }
        return header[index ..< end]
    }
}

/// Static API tokens (`--auth-tokens FILE`): one `TOKEN USER` a line (the
/// user is the rest of the line; blank lines and `#` comments are skipped).
/// Tokens are compared by their SHA-256 digests in constant time, against
/// every token each time, so timing tells nothing about which is near.
public struct StaticTokens: Sendable {
    private let entries: [(digest: [UInt8], user: UserID)]

    /// The shortest token accepted: 16 characters (about 96 bits when random).
    public static let minimumLength = 16

    public init(file path: String) throws(KeepError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeepError(.invalid, "--auth-tokens \(path) cannot be read")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw KeepError(.invalid, "--auth-tokens \(path) is not UTF-8 text")
        }
        var entries: [(digest: [UInt8], user: UserID)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\r", with: "")
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            let place = "--auth-tokens \(path):\(number + 1)"
            guard fields.count == 2 else { throw KeepError(.invalid, "\(place): a line is TOKEN USER; this one has no user") }
            guard fields[0].count >= Self.minimumLength else {
                throw KeepError(.invalid, "\(place): the token is shorter than \(Self.minimumLength) characters; use a long random one (openssl rand -hex 32)")
            }
            let user: UserID
            do {
                user = try UserID(checking: String(fields[1]).trimmingCharacters(in: .whitespaces))
            } catch {
                throw KeepError(.invalid, "\(place): \(error.message)")
            }
            entries.append((Array(SHA256.hash(data: Array(fields[0].utf8))), user))
        }
        guard !entries.isEmpty else { throw KeepError(.invalid, "--auth-tokens \(path) holds no TOKEN USER line") }
        self.entries = entries
    }

    /// The user of `token`, or nil.
    func user(for token: Substring) -> UserID? {
        var token = token
        let digest = token.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        var found: UserID?
        for entry in entries {
            var difference: UInt8 = 0
            for (byte, expected) in zip(digest, entry.digest) { difference |= byte ^ expected }
            if difference == 0 { found = entry.user }
        }
        return found
    }
}

/// Verifies bearer JWTs (`--jwt-keys`, `--jwt-issuer`, `--jwt-audience`,
/// `--jwt-user-claim`): the signature by a key of the JWK set, `exp`
/// (required) and `nbf`, the issuer and the audience; the user is the
/// string claim named `userClaim` (`oid` by default, as the reference's
/// identity provider issues).
public struct JWTVerifier: Sendable {
    let keys: JWTKeyCollection
    public let issuer: String
    public let audience: String
    public let userClaim: String

    /// Loads the JWK set in `path` (`{"keys": [...]}`).
    public static func load(keys path: String, issuer: String, audience: String, userClaim: String = "oid") async throws(KeepError) -> JWTVerifier {
        guard let data = FileManager.default.contents(atPath: path), let json = String(validating: data, as: UTF8.self) else {
            throw KeepError(.invalid, "--jwt-keys \(path) cannot be read as UTF-8 text")
        }
        let keys = JWTKeyCollection()
        do {
            try await keys.add(jwksJSON: json)
        } catch {
            throw KeepError(.invalid, "--jwt-keys \(path) is not a usable JWK set ({\"keys\": [...]}): \(error)")
        }
        return JWTVerifier(keys: keys, issuer: issuer, audience: audience, userClaim: userClaim)
    }

    func user(from token: String) async throws(APIError) -> UserID {
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self)
        } catch {
            throw Self.invalid("the bearer JWT was refused: \(Self.reason(error))")
        }
        guard claims.iss?.value == issuer else { throw Self.invalid("the bearer JWT was issued by another issuer") }
        guard let audiences = claims.aud?.value, audiences.contains(audience) else {
            throw Self.invalid("the bearer JWT is meant for another audience")
        }
        guard let raw = claims.strings[userClaim] else {
            throw Self.invalid("the bearer JWT has no string claim '\(userClaim)' naming the user")
        }
        do {
            return try UserID(checking: raw)
        } catch {
            throw Self.invalid("the bearer JWT's claim '\(userClaim)': \(error.message)")
        }
    }

    /// What went wrong, without the token.
    private static func reason(_ error: any Error) -> String {
        guard let error = error as? JWTError else { return "it is malformed" }
        switch error.errorType {
        case .claimVerificationFailure: return "it is expired or not yet valid"
        case .signatureVerificationFailed, .unknownKID, .missingKIDHeader: return "no key of the JWK set verifies its signature"
        case .unsupportedAlgorithm, .signingAlgorithmFailure: return "its algorithm is not one of the JWK set's keys"
        default: return "it is malformed"
        }
    }

    private static func invalid(_ message: String) -> APIError {
        APIError.unauthorized(message, challenge: #"Bearer error="invalid_token""#)
    }

    /// The claims Keep reads: `exp` (required), `nbf`, `iss`, `aud`, and
    /// every top-level string claim (for the configurable user claim).
    struct Claims: JWTPayload {
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        var strings: [String: String] = [:]

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            exp = try container.decode(ExpirationClaim.self, forKey: Key(stringValue: "exp"))
            nbf = try container.decodeIfPresent(NotBeforeClaim.self, forKey: Key(stringValue: "nbf"))
            iss = try container.decodeIfPresent(IssuerClaim.self, forKey: Key(stringValue: "iss"))
            aud = try container.decodeIfPresent(AudienceClaim.self, forKey: Key(stringValue: "aud"))
            for key in container.allKeys {
                if let text = try? container.decode(String.self, forKey: key) { strings[key.stringValue] = text }
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(exp, forKey: Key(stringValue: "exp"))
            try container.encodeIfPresent(nbf, forKey: Key(stringValue: "nbf"))
            try container.encodeIfPresent(iss, forKey: Key(stringValue: "iss"))
            try container.encodeIfPresent(aud, forKey: Key(stringValue: "aud"))
            for (key, value) in strings where !["iss", "aud"].contains(key) {
                try container.encode(value, forKey: Key(stringValue: key))
            }
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            try nbf?.verifyNotBefore()
        }
    }
}
