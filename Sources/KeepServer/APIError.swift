import Foundation
import HTTPTypes
import Hummingbird
import KeepCore

/// An error as the API answers it (SPEC §8): a status and the body
/// `{"error": {"type", "message", "details"}}`. `type` is Keep's error code
/// (SPEC §1), or for cases only HTTP has: `unauthorized`, `method_not_allowed`,
/// `precondition_failed`, `unsupported_media_type`, `precondition_required`,
/// `not_found` for an unknown path.
public struct APIError: Error, Sendable, HTTPResponseError {
    public var status: HTTPResponse.Status
    public var type: String
    public var message: String
    public var details: [String: KeepError.Detail]
    /// Extra headers (`WWW-Authenticate`, `Retry-After`, `Allow`).
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, type: String, _ message: String,
                details: [String: KeepError.Detail] = [:], headers: HTTPFields = [:]) {
        self.status = status
        self.type = type
        self.message = message
        self.details = details
        self.headers = headers
    }

    /// A malformed request (400); `type` stays Keep's `invalid`.
    static func badRequest(_ message: String, details: [String: KeepError.Detail] = [:]) -> APIError {
        APIError(.badRequest, type: KeepError.Code.invalid.rawValue, message, details: details)
    }

    static func unauthorized(_ message: String, challenge: String) -> APIError {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = challenge
        return APIError(.unauthorized, type: "unauthorized", message, headers: headers)
    }

    static func preconditionFailed(_ message: String, details: [String: KeepError.Detail] = [:]) -> APIError {
        APIError(.preconditionFailed, type: "precondition_failed", message, details: details)
    }

    /// The status of SPEC §8 for a Keep error. `invalid` and `policy` are
    /// rejections of what was sent (422); a `limit` (a script's budget) or an
    /// `interrupted` call is the server's problem, not the request's.
    public init(_ error: KeepError, requestID: String) {
        var headers = HTTPFields()
        let status: HTTPResponse.Status
        switch error.code {
        case .invalid, .policy: status = .unprocessableContent
        case .notFound: status = .notFound
        case .forbidden: status = .forbidden
        case .conflict: status = .conflict
        case .tooLarge: status = .contentTooLarge
        case .unavailable:
            status = .serviceUnavailable
            headers[.retryAfter] = "1"
        case .limit:
            // A limit policy that says when to come back answers 429 (SPEC
            // §8); a script that ran out of budget is the server's problem.
            if let after = error.details["retry_after_seconds"] {
                status = .tooManyRequests
                headers[.retryAfter] = after.description
            } else {
                status = .serviceUnavailable
                headers[.retryAfter] = "1"
            }
        case .interrupted:
            status = .serviceUnavailable
            headers[.retryAfter] = "1"
        default:
            self = .internal(requestID: requestID)
            return
        }
        self.init(status, type: error.code.rawValue, error.message, details: error.details, headers: headers)
    }

    /// A 500: the request id to find the log line by, and nothing of the
    /// cause (no content, no stack) in the answer.
    static func `internal`(requestID: String) -> APIError {
        APIError(.internalServerError, type: KeepError.Code.internal.rawValue,
                 "the server failed to answer this request; the log has the cause under request id \(requestID)",
                 details: ["request_id": .text(requestID)])
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    /// The answer: JSON body and headers.
    func response() -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    var body: [UInt8] {
        var details: [String: Any] = [:]
        for (key, value) in self.details {
            switch value {
            case .text(let text): details[key] = text
            case .integer(let number): details[key] = number
            case .number(let number): details[key] = number
            case .flag(let flag): details[key] = flag
            }
        }
        let object: [String: Any] = ["error": ["type": type, "message": message, "details": details]]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Array(data)
    }
}
