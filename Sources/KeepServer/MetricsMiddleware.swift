import Hummingbird

/// Counts every answer in `/metrics` (`ServerMetrics`): its operation (the
/// route the router matched, by its id in the route table), method, status
/// and latency. Outermost, so that it sees the status the client gets.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = KeepRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.record(APIOperation.matched(method: request.method, endpoint: context.endpointPath), method: request.method,
                           status: response.status, duration: started.duration(to: .now))
            return response
        } catch {
            // The request-log middleware renders every error; one that still gets here is answered by Hummingbird.
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            metrics.record(APIOperation.matched(method: request.method, endpoint: context.endpointPath), method: request.method,
                           status: status, duration: started.duration(to: .now))
            throw error
        }
    }
}
