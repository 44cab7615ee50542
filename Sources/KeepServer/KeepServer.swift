import Hummingbird
import KeepCore
import KeepRuntime
import KeepStore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// How `keep serve` runs (SPEC §8).
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (reported through `onListening`).
    public var port: Int
    public var authenticator: Authenticator
    /// `--cors-origin`: origins whose browsers may call the API.
    public var corsOrigins: [String]
    /// In-process job workers; 0 leaves jobs to `keep jobs work` elsewhere.
    public var workers: Int
    /// How long reading one request body may take (408 past it).
    public var readTimeout: Duration
    /// How long a connection may sit idle between requests before it is closed.
    public var idleTimeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 8080, authenticator: Authenticator, corsOrigins: [String] = [],
                workers: Int = 2, readTimeout: Duration = .seconds(60), idleTimeout: Duration = .seconds(75)) {
        self.host = host
        self.port = port
        self.authenticator = authenticator
        self.corsOrigins = corsOrigins
        self.workers = workers
        self.readTimeout = readTimeout
        self.idleTimeout = idleTimeout
    }

    /// Whether `host` is a loopback address (where `--dev-user` is allowed).
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

/// The HTTP service: the router over the same services every command uses,
/// the job workers, and their lifecycle (SIGTERM/SIGINT drain requests, then
/// stop the workers, which finish the jobs they hold).
public enum KeepServer {
    /// The router: every operation of `APIOperation` (the one route table),
    /// behind the metrics, CORS, request-log and (for the persistence API)
    /// authentication middlewares.
    public static func buildRouter(services: KeepServices, configuration: ServerConfiguration, logger: Logger,
                                   jobQueued: @escaping @Sendable () -> Void = {}) -> Router<KeepRequestContext> {
        let router = Router(context: KeepRequestContext.self)
        let metrics = ServerMetrics(services: services)
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        if !configuration.corsOrigins.isEmpty { router.add(middleware: CORSMiddleware(origins: Set(configuration.corsOrigins))) }
        router.add(middleware: RequestLogMiddleware(logger: logger))
        let health = HealthRoutes(services: services, metrics: metrics)
        for operation in APIOperation.allCases where !operation.isAuthenticated {
            router.on(RouterPath(operation.path), method: operation.method, use: health.handler(for: operation))
        }
        let persistence = PersistenceRoutes(services: services, bodies: JSONBodyReader(timeout: configuration.readTimeout),
                                            jobQueued: jobQueued)
        let api = router.group(RouterPath(APIOperation.persistencePrefix))
            .add(middleware: AuthenticationMiddleware(authenticator: configuration.authenticator))
        for operation in APIOperation.allCases where operation.isAuthenticated {
            api.on(RouterPath(operation.persistencePath), method: operation.method, use: persistence.handler(for: operation))
        }
        return router
    }

    /// Makes NIO's event loops Swift concurrency's global executor, so that a
    /// request's handler runs on the thread that read it and writes its answer
    /// there, instead of hopping to the cooperative pool and back twice
    /// (`scripts/bench.sh http`: GET metadata went from about 9,200 to about
    /// 15,300 requests/s on two cores). The price: work that blocks a task
    /// blocks an event loop, and the request path does some — SQLite reads
    /// and policy calls (within their budget, one at a time in the process);
    /// docs/http.md says what waits. Call once, from the main thread, before
    /// serving; false when another hook was installed first (then tasks run
    /// on the usual pool).
    @discardableResult
    public static func runTasksOnEventLoops() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// Serves until SIGTERM or SIGINT: drains the requests in flight, stops
    /// the job workers (they finish what they hold), then returns.
    /// `onListening` hears the address bound (the port when 0 was asked).
    public static func run(services: KeepServices, configuration: ServerConfiguration, logger: Logger,
                           onListening: @escaping @Sendable (String, Int) -> Void) async throws {
        // One worker running `workers` jobs at once: it claims them together,
        // under the process's one holder name, as `keep jobs work --concurrency` does.
        let workers = configuration.workers > 0
            ? [JobWorker(runner: services.jobs, concurrency: configuration.workers, warn: { logger.warning("\($0)") })]
            : []
        let router = buildRouter(services: services, configuration: configuration, logger: logger,
                                 jobQueued: { for worker in workers { worker.wake() } })
        let idle = configuration.idleTimeout.components
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(idle.seconds))),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port),
                                                    serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                onListening(configuration.host, port)
            },
            logger: logger
        )
        // Shut down in reverse order: the server first (drains requests), then the workers.
        let services: [any Service] = workers.map { JobWorkerService(worker: $0, logger: logger) } + [app]
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// One in-process job worker as a service: runs until the group shuts
/// down, then claims no more and finishes the jobs it holds.
struct JobWorkerService: Service {
    let worker: JobWorker
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            await worker.run { outcome in
                var metadata: Logger.Metadata = ["job": .stringConvertible(outcome.job.id), "kind": .string(outcome.job.kind.rawValue),
                                                 "state": .string(outcome.job.state.rawValue)]
                if let error = outcome.error { metadata["error"] = .string(error) }
                logger.info("job attempt", metadata: metadata)
            }
        } onGracefulShutdown: {
            worker.stop()
        }
    }
}
