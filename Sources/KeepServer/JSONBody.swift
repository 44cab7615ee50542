#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Hummingbird
import KeepCore
import KeepJSON
import NIOCore

/// Reads a request's JSON body (SPEC §8): the media type must be JSON (415),
/// the body at most `maximumBytes` (413) and read within the read timeout
/// (408), the text well-formed JSON (400), the value an object (422).
struct JSONBodyReader: Sendable {
    /// The longest body read. A session's content may be 1.5 MiB
    /// (1,572,864 bytes, the default policy's limit) and is sent as a JSON
    /// string, where each byte can take up to six (`\u0001` for a control
    /// character; a 2- to 4-byte UTF-8 character written as `\u` escapes (`\u00e9`, or a surrogate pair)
    /// takes 6 or 12, at most 3 per byte), so 9 MiB, plus 64 KiB for the
    /// title, description and the object around them.
    static let maximumBytes = 6 * 1_572_864 + 64 * 1024

    /// How long reading a whole body may take: a body that trickles in more
    /// slowly, or never ends, is answered 408 and the connection closed.
    var timeout: Duration

    func object(of request: Request) async throws -> JSONFields {
        try checkMediaType(request.headers[.contentType])
        if let length = request.headers[.contentLength].flatMap(Int.init), length > Self.maximumBytes {
            throw Self.tooLarge
        }
        let bytes = try await Self.collect(request.body, within: timeout)
        let tree: JSONTree
        do {
            tree = try bytes.withUnsafeReadableBytes { raw throws(JSONError) in
                try JSONTree.parse(raw.assumingMemoryBound(to: UInt8.self))
            }
        } catch {
            throw APIError.badRequest("the body is not well-formed JSON: \(error)")
        }
        guard tree.nodes[0].kind == .object else {
            throw APIError(.unprocessableContent, type: KeepError.Code.invalid.rawValue, "the body must be a JSON object")
        }
        return JSONFields(tree: tree)
    }

    private func checkMediaType(_ value: String?) throws(APIError) {
        let type = value?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json")) else {
            throw APIError(.unsupportedMediaType, type: "unsupported_media_type",
                           value == nil ? "the body has no Content-Type; send application/json"
                                        : "the body is \(type.prefix(60)); send application/json")
        }
    }

    static let tooLarge = APIError(.contentTooLarge, type: KeepError.Code.tooLarge.rawValue,
                                   "the body is over \(maximumBytes) bytes, the most a 1.50 MiB content needs once JSON-escaped",
                                   details: ["limit": .integer(Int64(maximumBytes))])

    /// The whole body, or 413 past the limit, or 408 when it takes longer than `timeout`.
    private static func collect(_ body: RequestBody, within timeout: Duration) async throws -> NIOCore.ByteBuffer {
        try await withThrowingTaskGroup(of: NIOCore.ByteBuffer?.self) { group in
            group.addTask {
                do {
                    return try await body.collect(upTo: maximumBytes)
                } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
                    throw tooLarge
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let bytes = first else {
                var headers = HTTPFields()
                headers[.connection] = "close"
                throw APIError(.requestTimeout, type: "request_timeout",
                               "the body did not arrive within \(timeout); send it at once", headers: headers)
            }
            return bytes
        }
    }
}

/// The fields of a JSON object body, read with the rules of SPEC §8: a
/// missing required field or one of the wrong type answers 422 (`invalid`).
/// When a key repeats, the last member counts (as `json.decode` reads it).
struct JSONFields {
    let tree: JSONTree

    /// A required string.
    func string(_ name: String) throws(APIError) -> String {
        guard let member = member(name), tree.nodes[member].kind != .null else {
            throw Self.invalid("\(name) is missing; it is a string", field: name)
        }
        guard tree.nodes[member].kind == .string else { throw Self.invalid("\(name) must be a string", field: name) }
        return String(decoding: tree.content(member), as: UTF8.self)
    }

    /// The string member `name` as it was sent, when its escapes are the
    /// ones Keep writes (JSON.stringify's): an answer holding the same text
    /// may copy the literal instead of escaping the text again.
    func sentString(_ name: String) -> SentString? {
        guard let member = member(name), tree.nodes[member].kind == .string, tree.nodes[member].isCanonical else { return nil }
        return SentString(tree: tree, node: member)
    }

    /// An optional string: absent → nil; `null` → `.some(nil)`; a string → `.some(text)`.
    func optionalString(_ name: String) throws(APIError) -> String?? {
        guard let member = member(name) else { return nil }
        switch tree.nodes[member].kind {
        case .null: return .some(nil)
        case .string: return .some(String(decoding: tree.content(member), as: UTF8.self))
        default: throw Self.invalid("\(name) must be a string or null", field: name)
        }
    }

    /// The root object's live member named `name`.
    private func member(_ name: String) -> Int? {
        let count = tree.nodes[0].count
        guard count > 0 else { return nil }
        var member = tree.firstChild(0)
        for n in 0 ..< count {
            if name.utf8.elementsEqual(tree.key(member)) { return member }
            if n + 1 < count { member = tree.nextChild(member) }
        }
        return nil
    }

    static func invalid(_ message: String, field: String) -> APIError {
        APIError(.unprocessableContent, type: KeepError.Code.invalid.rawValue, message, details: ["field": .text(field)])
    }
}

/// A string of a request body, as its literal in the body's text.
struct SentString {
    let tree: JSONTree
    let node: Int

    /// The JSON literal, quotes included.
    var literal: UnsafeBufferPointer<UInt8> { tree.text(node) }

    /// Whether the literal is `text`'s.
    func isLiteral(of text: String) -> Bool {
        let decoded = tree.content(node)
        var text = text
        return text.withUTF8 { bytes in
            bytes.count == decoded.count && (bytes.isEmpty || memcmp(bytes.baseAddress!, decoded.baseAddress!, bytes.count) == 0)
        }
    }
}
