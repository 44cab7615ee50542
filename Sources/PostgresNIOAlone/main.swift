import Foundation
import Logging
import PostgresNIO

// The PostgreSQL benchmark's driver anchor (scripts/bench.sh pg-crud): the
// statements Keep runs for a session create, get and update, one at a time
// through PostgresNIO alone, with nothing of Keep around them. Each runs as a
// prepared statement on one connection through the driver's async API, from
// a task that runs on that connection's event loop, so no thread hand-off is
// paid: the driver used as it is meant to be. What pgbench does beyond this
// rate is the difference between the driver and libpq; keep, which drives
// its kept connection from the calling thread, can come out ahead of it.
//
// Usage: PostgresNIOAlone URL COUNT CREATE_DOC CREATE_HASH UPDATE_DOC UPDATE_HASH
//   URL  postgres://USER:PASSWORD@HOST:PORT/DB?schema=S (plain TCP; the schema
//        holds Keep's tables, made by any keep command)
// Prints the three phases' rates in operations per second, "create get
// update", as scripts/bench/session_crud.lua does.

struct Parameters {
    let configuration: PostgresConnection.Configuration
    let count: Int
    let documents: [(content: String, hash: String)]

    init(_ arguments: [String]) throws {
        guard arguments.count == 7, let url = URLComponents(string: arguments[1]), let host = url.host,
              let user = url.user, let count = Int(arguments[2]), count > 0 else {
            throw BenchError("usage: PostgresNIOAlone URL COUNT CREATE_DOC CREATE_HASH UPDATE_DOC UPDATE_HASH")
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: url.port ?? 5432, username: user, password: url.password,
            database: String(url.path.dropFirst()), tls: .disable)
        if let schema = url.queryItems?.first(where: { $0.name == "schema" })?.value {
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        self.configuration = configuration
        self.count = count
        documents = try [(arguments[3], arguments[4]), (arguments[5], arguments[6])].map { path, hash in
            (try String(contentsOfFile: path, encoding: .utf8), hash)
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Document text as `bytea`, its UTF-8 bytes (as Keep binds it).
struct Bytes: PostgresNonThrowingEncodable {
    let text: String
    static var psqlType: PostgresDataType { .bytea }
    static var psqlFormat: PostgresFormat { .binary }
    func encode<E: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<E>) {
        buffer.writeString(text)
    }
}

extension PostgresBindings {
    /// $1 to $5 of the insert and the update: id, title, title key, content, hash.
    static func document(id: String, content: String, hash: String) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 7)
        bindings.append(id)
        bindings.append(Bytes(text: "Well study"))
        bindings.append(Bytes(text: "well study"))
        bindings.append(Bytes(text: content))
        bindings.append(hash)
        return bindings
    }
}

protocol Statement: PostgresPreparedStatement where Row == PostgresRow {}
extension Statement {
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

struct Insert: Statement {
    static let name = "alone_insert"
    static let sql = """
        INSERT INTO sessions (id, owner, title, title_key, description, content, hash, version, created_at, updated_at)
        VALUES ($1, 'bench', $2, $3, NULL, $4, $5, 1, $6, $6)
        """
    let id: String, content: String, hash: String
    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings.document(id: id, content: content, hash: hash)
        bindings.append(Int64(Date().timeIntervalSince1970 * 1000))
        return bindings
    }
}

struct Select: Statement {
    static let name = "alone_select"
    static let sql = "SELECT id, owner, title, description, hash, version, created_at, updated_at, content FROM sessions WHERE owner = 'bench' AND id = $1"
    let id: String
    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(id)
        return bindings
    }
}

struct Replace: Statement {
    static let name = "alone_replace"
    static let sql = """
        UPDATE sessions SET title = $2, title_key = $3, description = NULL, content = $4, hash = $5,
          version = $6 + 1, updated_at = $7
        WHERE owner = 'bench' AND id = $1 AND version = $6
        RETURNING version
        """
    let id: String, content: String, hash: String, version: Int64
    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings.document(id: id, content: content, hash: hash)
        bindings.append(version)
        bindings.append(Int64(Date().timeIntervalSince1970 * 1000))
        return bindings
    }
}

/// Runs a task's jobs on an event loop (the connection's).
final class EventLoopExecutor: TaskExecutor {
    let loop: any EventLoop
    init(_ loop: any EventLoop) { self.loop = loop }
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}

func rows<S: Statement>(_ statement: S, on connection: PostgresConnection, _ logger: Logger) async throws -> [PostgresRow] {
    try await connection.execute(statement, logger: logger).reduce(into: []) { $0.append($1) }
}

/// Operations per second of `count` runs of `body`.
func rate(_ count: Int, _ body: () async throws -> Void) async rethrows -> Double {
    let clock = ContinuousClock()
    let elapsed = try await clock.measure(body)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(count) / seconds
}

func run(_ parameters: Parameters, on connection: PostgresConnection) async throws -> [Double] {
    let logger = Logger(label: "alone", factory: { _ in SwiftLogNoOpLogHandler() })
    let (first, second) = (parameters.documents[0], parameters.documents[1])
    let stamp = UInt64(Date().timeIntervalSince1970 * 1000)
    var ids = (1...parameters.count).map { "alone\(stamp)-\($0)" }
    let create = try await rate(parameters.count) {
        for id in ids { _ = try await rows(Insert(id: id, content: first.content, hash: first.hash), on: connection, logger) }
    }
    var generator = SystemRandomNumberGenerator()
    ids.shuffle(using: &generator)
    let get = try await rate(parameters.count) {
        for id in ids { _ = try await rows(Select(id: id), on: connection, logger) }
    }
    let update = try await rate(parameters.count) {
        for id in ids {
            guard let row = try await rows(Select(id: id), on: connection, logger).first else { throw BenchError("\(id) is gone") }
            let version = try row.makeRandomAccess()["version"].decode(Int64.self)
            let written = try await rows(Replace(id: id, content: second.content, hash: second.hash, version: version),
                                         on: connection, logger)
            guard !written.isEmpty else { throw BenchError("\(id) moved") }
        }
    }
    return [create, get, update]
}

/// `run` with every step on the connection's event loop (called from outside any actor).
func runOnEventLoop(_ parameters: Parameters, on connection: PostgresConnection) async throws -> [Double] {
    try await withTaskExecutorPreference(EventLoopExecutor(connection.eventLoop)) {
        try await run(parameters, on: connection)
    }
}

do {
    let parameters = try Parameters(CommandLine.arguments)
    let logger = Logger(label: "alone", factory: { _ in SwiftLogNoOpLogHandler() })
    let connection = try await PostgresConnection.connect(configuration: parameters.configuration, id: 1, logger: logger)
    let rates = try await runOnEventLoop(parameters, on: connection)
    try await connection.close().get()
    print(rates.map { String(format: "%.1f", $0) }.joined(separator: " "))
} catch {
    FileHandle.standardError.write(Data("PostgresNIOAlone: \(String(reflecting: error))\n".utf8))
    exit(1)
}
