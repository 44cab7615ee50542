import Hummingbird
import KeepCore

/// Authenticates requests to the persistence API (`Authenticator`); the
/// user goes into the context for the handler and into the request's log line.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = KeepRequestContext
    let authenticator: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let user = try await authenticator.user(for: request.headers)
        context.user = user
        context.userRecord.value = user
        return try await next(request, context)
    }
}
