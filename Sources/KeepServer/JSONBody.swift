import Foundation
import HTTPTypes
import Hummingbird
import KeepCore

/// Reads a request's JSON body (SPEC §8): the media type must be JSON (415),
/// the body at most `BodyLimit.bytes` (413) and read within the read timeout
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
        let body = request.body
        let bytes = try await Self.collect(body, within: timeout)
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(buffer: bytes), options: [.fragmentsAllowed])
        } catch {
            throw APIError.badRequest("the body is not well-formed JSON")
        }
        guard let fields = value as? [String: Any] else {
            throw APIError(.unprocessableContent, type: KeepError.Code.invalid.rawValue, "the body must be a JSON object")
        }
        return JSONFields(fields: fields)
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
    private static func collect(_ body: RequestBody, within timeout: Duration) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
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
struct JSONFields {
    var fields: [String: Any]

    /// A required string.
    func string(_ name: String) throws(APIError) -> String {
        guard let value = fields[name], !(value is NSNull) else {
            throw Self.invalid("\(name) is missing; it is a string", field: name)
        }
        guard let text = value as? String else { throw Self.invalid("\(name) must be a string", field: name) }
        return text
    }

    /// An optional string: absent → nil; `null` → `.some(nil)`; a string → `.some(text)`.
    func optionalString(_ name: String) throws(APIError) -> String?? {
        guard let value = fields[name] else { return nil }
        if value is NSNull { return .some(nil) }
        guard let text = value as? String else { throw Self.invalid("\(name) must be a string or null", field: name) }
        return .some(text)
    }

    static func invalid(_ message: String, field: String) -> APIError {
        APIError(.unprocessableContent, type: KeepError.Code.invalid.rawValue, message, details: ["field": .text(field)])
    }
}
