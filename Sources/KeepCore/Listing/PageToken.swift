import Crypto

/// Opaque page tokens: the cursor and a fingerprint of the query, signed
/// with HMAC-SHA256 under a secret of the database. A token that was altered,
/// or that is used with another query or by another user, answers `invalid`.
public struct PageTokenCodec: Sendable {
    private let secret: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: secret) }

    public init(secret: [UInt8]) {
        self.secret = secret
    }

    public func encode(_ cursor: PageCursor, fingerprint: String) -> String {
        let value: String
        switch cursor.value {
        case .text(let text): value = "t" + text
        case .integer(let number): value = "i" + String(number)
        }
        let payload = Array([fingerprintDigest(fingerprint), cursor.id.rawValue, value].joined(separator: "\u{1F}").utf8)
        let mac = Array(HMAC<SHA256>.authenticationCode(for: payload, using: key))
        return "1." + Base64URL.encode(payload) + "." + Base64URL.encode(mac)
    }

    public func decode(_ token: String, fingerprint: String) throws(KeepError) -> PageCursor {
        let invalid = KeepError(.invalid, "page_token is not valid for this listing; start again without it")
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "1",
              let payload = Base64URL.decode(parts[1]), let mac = Base64URL.decode(parts[2]),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key)
        else { throw invalid }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\u{1F}", maxSplits: 2,
                                                                   omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0] == fingerprintDigest(fingerprint),
              let id = try? ResourceID(String(fields[1])), let kind = fields[2].first
        else { throw invalid }
        let rest = String(fields[2].dropFirst())
        switch kind {
        case "t": return PageCursor(value: .text(rest), id: id)
        case "i":
            guard let number = Int64(rest) else { throw invalid }
            return PageCursor(value: .integer(number), id: id)
        default: throw invalid
        }
    }

    private func fingerprintDigest(_ fingerprint: String) -> String {
        String(ContentHash(of: fingerprint).hex.prefix(16))
    }
}

/// Base64 with the URL alphabet and no padding (RFC 4648 §5).
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i < bytes.count {
            let chunk = (UInt32(bytes[i]) << 16) | (i + 1 < bytes.count ? UInt32(bytes[i + 1]) << 8 : 0)
                | (i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0)
            let count = min(3, bytes.count - i) + 1
            for j in 0 ..< count { out.append(alphabet[Int(chunk >> UInt32(18 - 6 * j) & 0x3F)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        var values = [UInt8]()
        for byte in text.utf8 {
            guard let index = alphabet.firstIndex(of: byte) else { return nil }
            values.append(UInt8(index))
        }
        guard values.count % 4 != 1 else { return nil }
        var out = [UInt8]()
        var i = 0
        while i < values.count {
            let count = min(4, values.count - i)
            var chunk: UInt32 = 0
            for j in 0 ..< 4 { chunk = chunk << 6 | (j < count ? UInt32(values[i + j]) : 0) }
            for j in 0 ..< count - 1 { out.append(UInt8(chunk >> UInt32(16 - 8 * j) & 0xFF)) }
            i += 4
        }
        return out
    }
}
