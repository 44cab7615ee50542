import HTTPTypes
import Hummingbird

/// Cross-origin access for browsers (`--cors-origin`, SPEC §8): a request
/// from one of `origins` gets `Access-Control-Allow-Origin`, exposes `ETag`
/// and `X-Request-Id`; a preflight (OPTIONS with
/// `Access-Control-Request-Method`) is answered here with the methods and
/// headers the API takes (`Authorization`, `Content-Type`, `If-Match`,
/// `X-Request-Id`). Without origins, no CORS header is ever sent.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = KeepRequestContext
    let origins: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains(origin) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowMethods] = "GET, POST, PUT, DELETE"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type, If-Match, X-Request-Id"
            headers[.accessControlMaxAge] = "600"
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = "ETag, X-Request-Id, Retry-After, WWW-Authenticate"
        response.headers[.vary] = "Origin"
        return response
    }
}
