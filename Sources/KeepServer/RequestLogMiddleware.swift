import Foundation
import HTTPTypes
import Hummingbird
import KeepCore
import Logging
import Synchronization

/// The outermost concern of every request but CORS: the request id (the
/// client's `X-Request-Id` when usable, else a new one, echoed on the
/// answer), errors rendered as SPEC §8's JSON, and one log line per request
/// (method, route, status, milliseconds, request id, user — never a body,
/// a query or a header's value).
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = KeepRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var context = context
        context.requestID = RequestID.accept(request.headers[.xRequestID]) ?? context.requestID
        let user = context.userRecord
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = render(error, request: request, context: context)
        }
        response.headers[.xRequestID] = context.requestID
        let elapsed = started.duration(to: .now)
        let tenths = elapsed.components.seconds * 10_000 + elapsed.components.attoseconds / 100_000_000_000_000
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue),
            "route": .string(context.endpointPath ?? "unmatched"),
            "status": .stringConvertible(response.status.code),
            "ms": .string("\(tenths / 10).\(tenths % 10)"),
            "request_id": .string(context.requestID),
        ]
        if let user = user.value { metadata["user"] = .string(user) }
        logger.info("request", metadata: metadata)
        return response
    }

    /// The JSON answer to `error`: an `APIError` as it is, a `KeepError` by
    /// its code, an unknown path 404 (405 with `Allow` when another method
    /// has it); anything else is a 500 whose cause goes to the log only.
    private func render(_ error: any Error, request: Request, context: Context) -> Response {
        switch error {
        case let error as APIError:
            return error.response()
        case let error as KeepError:
            if error.code == .internal { logInternal(error, context) }
            return APIError(error, requestID: context.requestID).response()
        case let error as any HTTPResponseError where error.status == .notFound:
            let allowed = APIOperation.methods(allowedAt: Substring(request.uri.path))
            guard allowed.isEmpty else {
                var headers = HTTPFields()
                headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                return APIError(.methodNotAllowed, type: "method_not_allowed",
                                "\(request.method.rawValue) is not allowed here; use \(allowed.map(\.rawValue).joined(separator: " or "))",
                                headers: headers).response()
            }
            return APIError(.notFound, type: KeepError.Code.notFound.rawValue, "no route \(request.uri.path.prefix(200))").response()
        case let error as any HTTPResponseError where error.status.code < 500:
            return APIError(error.status, type: error.status.code == 413 ? KeepError.Code.tooLarge.rawValue : KeepError.Code.invalid.rawValue,
                            error.status.reasonPhrase).response()
        default:
            logInternal(error, context)
            return APIError.internal(requestID: context.requestID).response()
        }
    }

    private func logInternal(_ error: any Error, _ context: Context) {
        logger.error("internal error", metadata: ["request_id": .string(context.requestID), "error": .string(String(describing: error))])
    }
}

extension HTTPField.Name {
    static let xRequestID = HTTPField.Name("X-Request-Id")!
}

/// Where the authenticated user is noted for the request's log line (the
/// context is a value: the outer middleware does not see the inner's copy).
final class UserRecord: Sendable {
    private let user = Mutex<UserID?>(nil)
    var value: UserID? {
        get { user.withLock { $0 } }
        set { user.withLock { $0 = newValue } }
    }
}
