import ArgumentParser
import Foundation
import KeepCore
import KeepRuntime
import KeepServer
import KeepStore
import Logging

extension Keep {
    /// `keep serve` (SPEC §8): the persistence API over HTTP.
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the persistence API over HTTP (the reference front end's routes under /api/persistence).",
            discussion: """
                Requests authenticate with a bearer token: a static API token (--auth-tokens) or a JWT \
                (--jwt-keys with --jwt-issuer and --jwt-audience); on a loopback address, --dev-user lets \
                requests without credentials act as one user. At least one is required. The policy folder \
                reloads when it changes. SIGTERM or Ctrl-C stops taking requests, finishes those in flight and \
                the jobs the workers hold, then exits 0. See docs/http.md.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("The address to listen on (a reverse proxy in front adds TLS).", valueName: "ADDRESS"))
        var host = "127.0.0.1"
        @Option(help: ArgumentHelp("The port to listen on; 0 picks a free one (the start line names it).", valueName: "PORT"))
        var port = 8080
        @Option(help: ArgumentHelp("Static API tokens: a file of TOKEN USER lines (tokens of 16 characters or more).", valueName: "FILE"))
        var authTokens: String?
        @Option(help: ArgumentHelp("Accept JWTs signed by a key of this JWK set file ({\"keys\": [...]}).", valueName: "FILE"))
        var jwtKeys: String?
        @Option(help: ArgumentHelp("The issuer (iss) a JWT must name.", valueName: "ISS"))
        var jwtIssuer: String?
        @Option(help: ArgumentHelp("The audience (aud) a JWT must include.", valueName: "AUD"))
        var jwtAudience: String?
        @Option(help: ArgumentHelp("The JWT claim that names the user.", valueName: "CLAIM"))
        var jwtUserClaim = "oid"
        @Option(help: ArgumentHelp("Requests without credentials act as this user (development only; loopback addresses only).", valueName: "NAME"))
        var devUser: String?
        @Option(help: ArgumentHelp("Job workers in this process (0 to 64); 0 leaves jobs to 'keep jobs work' elsewhere.", valueName: "N"))
        var workers = 2
        @Option(help: ArgumentHelp("Let browsers of this origin call the API (repeatable), e.g. https://workbench.example.com.", valueName: "ORIGIN"))
        var corsOrigin: [String] = []
        @Option(help: ArgumentHelp("How long reading one request body may take before it is answered 408.", valueName: "TIME"))
        var readTimeout = "60s"

        func validate() throws {
            guard (0 ... 65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
            guard (0 ... 64).contains(workers) else { throw ValidationError("--workers must be from 0 to 64") }
            guard let timeout = Quantity.duration(readTimeout), timeout >= .milliseconds(100) else {
                throw ValidationError("--read-timeout must be a time of at least 100ms (30s, 2m)")
            }
            guard authTokens != nil || jwtKeys != nil || devUser != nil else {
                throw ValidationError("keep serve needs a way to authenticate requests: --auth-tokens FILE (TOKEN USER lines), "
                    + "--jwt-keys FILE with --jwt-issuer ISS and --jwt-audience AUD (JWTs), or --dev-user NAME (loopback only, for development)")
            }
            if jwtKeys != nil, jwtIssuer == nil || jwtAudience == nil {
                throw ValidationError("--jwt-keys needs --jwt-issuer and --jwt-audience: a JWT is accepted only from its issuer, for this audience")
            }
            if jwtKeys == nil, jwtIssuer != nil || jwtAudience != nil {
                throw ValidationError("--jwt-issuer and --jwt-audience go with --jwt-keys FILE (the JWK set that verifies signatures)")
            }
            if let devUser {
                guard ServerConfiguration.isLoopback(host) else {
                    throw ValidationError("--dev-user lets anyone who reaches the server act as \(devUser); it is allowed only on a loopback "
                        + "address (--host 127.0.0.1 or ::1), not \(host)")
                }
                do {
                    _ = try UserID(checking: devUser)
                } catch {
                    throw ValidationError("--dev-user: \(error.message)")
                }
            }
            for origin in corsOrigin where !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) || origin.hasSuffix("/") {
                throw ValidationError("--cors-origin '\(origin)' is not an origin; give scheme://host[:port], e.g. https://workbench.example.com")
            }
        }

        func run() throws {
            KeepServer.runTasksOnEventLoops()
            let logOutput = LogOutput()
            LoggingSystem.bootstrap { label in ServerLogHandler(label: label, output: logOutput) }
            let logger = Logger(label: "keep.serve")
            let holder = "keep-serve:\(ProcessInfo.processInfo.hostName):\(getpid())"
            let services: KeepServices
            let authenticator: Authenticator
            do {
                services = try CommandServices.open(global.runtime(holder: holder, watchPolicies: true, longRunning: true))
                authenticator = try authenticatorFromOptions()
            } catch let error as KeepError {
                fail("keep: \(error)", status: error.code == .invalid ? ExitStatus.usage : ExitStatus.failure)
            } catch {
                fail("keep: \(error)", status: ExitStatus.failure)
            }
            if let devUser = authenticator.devUser {
                Console.error("keep: --dev-user: requests without credentials act as \(devUser); for development only")
            }
            let configuration = ServerConfiguration(host: host, port: port, authenticator: authenticator, corsOrigins: corsOrigin,
                                                    workers: workers, readTimeout: Quantity.duration(readTimeout)!)
            let database = (try? global.database.label) ?? global.databasePath
            let workers = self.workers
            do {
                try blockingInPool {
                    try await KeepServer.run(services: services, configuration: configuration, logger: logger) { host, port in
                        let shown = host.contains(":") ? "[\(host)]" : host
                        Console.error("keep: listening on http://\(shown):\(port) (database \(database), \(workers) job workers); "
                            + "stop with Ctrl-C or SIGTERM")
                    }
                }
            } catch {
                logOutput.flush()
                fail("keep: serve: \(error)", status: ExitStatus.failure)
            }
            logOutput.flush()
            CommandServices.closeAll()
        }

        private func authenticatorFromOptions() throws -> Authenticator {
            var authenticator = Authenticator()
            if let authTokens { authenticator.tokens = try StaticTokens(file: authTokens) }
            if let jwtKeys, let jwtIssuer, let jwtAudience {
                let claim = jwtUserClaim
                authenticator.jwt = try blocking {
                    try await JWTVerifier.load(keys: jwtKeys, issuer: jwtIssuer, audience: jwtAudience, userClaim: claim)
                }
            }
            if let devUser { authenticator.devUser = try UserID(checking: devUser) }
            return authenticator
        }
    }
}
