import Foundation
import KeepTestSupport
import Testing

/// `--db postgres://…` through the built binary, against the server of
/// `KEEP_TEST_POSTGRES_URL` (scripts/test.sh starts a throwaway one): sessions
/// made by one process are listed and read by the next, and every way of
/// failing to open says what to check — without the password, and without
/// hanging.
@Suite(.enabled(if: BackendKind.postgresURL != nil, "KEEP_TEST_POSTGRES_URL is not set, so the binary was not tried on PostgreSQL; scripts/test.sh starts a throwaway server and sets it"))
struct PostgresCommandTests {
    static var url: String? { BackendKind.postgresURL }

    /// The server's URL with a new, empty schema of this test's own.
    static func freshDatabase() throws -> (url: String, schema: String) {
        let url = try #require(url)
        let schema = "keep_cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return (url + (url.contains("?") ? "&" : "?") + "schema=" + schema, schema)
    }

    @Test func runCreatesListsAndReadsSessions() throws {
        let (db, _) = try Self.freshDatabase()
        let created = try KeepBinary.run(["--db", db, "--user", "ana", "run", "-e", """
            local a = keep.sessions.create{title = "Field study", content = "{\\"zoom\\": 3}"}
            keep.sessions.create{title = "another", content = "{}"}
            io.write(a.id)
            """])
        #expect(created.status == 0, "\(created.stderr)")
        let id = created.stdout
        let listed = try KeepBinary.run(["--db", db, "--user", "ana", "run", "-e", """
            local page = keep.sessions.list{sort_by = "title"}
            for _, s in ipairs(page.items) do print(s.title) end
            local s = keep.sessions.get("\(id)")
            print(s.content, s.version, s.hash)
            print(#keep.sessions.list{}.items == 2, pcall(keep.sessions.get, "AAAAAAAAAAAA"))
            """])
        #expect(listed.status == 0, "\(listed.stderr)")
        let lines = listed.stdout.split(separator: "\n").map(String.init)
        #expect(lines.prefix(2) == ["another", "Field study"])
        #expect(lines.count == 4 && lines[2].hasPrefix("{\"zoom\": 3}\t1\t"))
        #expect(lines.count == 4 && lines[3].hasPrefix("true\tfalse\tnot_found"))
        let other = try KeepBinary.run(["--db", db, "--user", "bob", "run", "-e", "print(#keep.sessions.list{}.items)"])
        #expect(other.stdout == "0\n", "another user sees none of ana's sessions: \(other.stderr)")
    }

    @Test func aBadURLIsAUsageErrorThatHidesThePassword() throws {
        let result = try KeepBinary.run(["--db", "postgres://keep:s3cret@localhost/keep?sslmode=sometimes", "run", "-e", "print(1)"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("sslmode 'sometimes' is not supported; use disable, prefer, require"), "\(result.stderr)")
        #expect(!result.stderr.contains("s3cret"))
        let noDatabase = try KeepBinary.run(["--db", "postgresql://keep@localhost", "run", "-e", "print(1)"])
        #expect(noDatabase.status == 2 && noDatabase.stderr.contains("it names no database"), "\(noDatabase.stderr)")
        let name = try KeepBinary.run(["--db", "postgres://keep@localhost/keep?application_name=", "run", "-e", "print(1)"])
        #expect(name.status == 2 && name.stderr.contains("application_name '' must be 1 to 63 printable ASCII characters"),
                "\(name.stderr)")
        let unknown = try KeepBinary.run(["--db", "postgres://keep@localhost/keep?sslcert=x", "run", "-e", "print(1)"])
        #expect(unknown.status == 2 && unknown.stderr.contains("pool_size, application_name"), "\(unknown.stderr)")
    }

    @Test func aServerThatIsDownAnswersUnavailableAtOnce() throws {
        // A port nothing listens on: bound, then closed.
        let port = try Self.closedPort()
        let result = try KeepBinary.run(["--db", "postgres://keep:s3cret@127.0.0.1:\(port)/keep?connect_timeout=5",
                                         "--user", "ana", "run", "-e", "keep.sessions.list{}"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("unavailable: could not open the database postgres://keep:***@127.0.0.1:\(port)/keep: could not reach PostgreSQL at 127.0.0.1:\(port) (connection refused); check that the server is running"),
                "\(result.stderr)")
        #expect(!result.stderr.contains("s3cret"))
    }

    @Test func aServerThatNeverAnswersTimesOut() throws {
        // Listening without ever accepting: the kernel completes the TCP
        // handshake, and nothing ever answers Keep's startup message.
        let (descriptor, port) = try Self.socketOnLoopback()
        defer { close(descriptor) }
        try #require(listen(descriptor, 8) == 0)
        let result = try KeepBinary.run(["--db", "postgres://keep@127.0.0.1:\(port)/keep?connect_timeout=1",
                                         "--user", "ana", "run", "-e", "keep.sessions.list{}"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("unavailable: could not open the database postgres://keep@127.0.0.1:\(port)/keep: could not reach PostgreSQL at 127.0.0.1:\(port) (no answer within 1 s: connect timeout)"),
                "\(result.stderr)")
    }

    @Test func wrongCredentialsSayWhatToCheck() throws {
        let url = try #require(Self.url)
        let wrong = url.replacingOccurrences(of: "://keep:keep-test@", with: "://keep:wrong-password@")
        try #require(wrong != url, "the test server's URL has the user and password scripts/test.sh gives it")
        let result = try KeepBinary.run(["--db", wrong, "--user", "ana", "run", "-e", "keep.sessions.list{}"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("unavailable: could not open the database"), "\(result.stderr)")
        #expect(result.stderr.contains("refused user 'keep'") && result.stderr.contains("check the user name and password"),
                "\(result.stderr)")
        #expect(!result.stderr.contains("wrong-password"))
    }

    @Test func aSchemaFromANewerKeepIsRefused() throws {
        let (db, schema) = try Self.freshDatabase()
        let setUp = try KeepBinary.run(["--db", db, "--user", "ana", "run", "-e", "keep.sessions.list{}"])
        #expect(setUp.status == 0, "\(setUp.stderr)")
        try Self.psql("UPDATE \(schema).keep_schema SET version = 999")
        let result = try KeepBinary.run(["--db", db, "--user", "ana", "run", "-e", "keep.sessions.list{}"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("has schema version 999, newer than this Keep knows"), "\(result.stderr)")
        #expect(result.stderr.contains("use a newer keep"))
    }

    /// Runs one statement with psql (Debian's postgresql-client) on the test server.
    static func psql(_ statement: String) throws {
        let url = try #require(Self.url)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", statement]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "psql failed: \(statement)")
    }

    /// A port of 127.0.0.1 that was free a moment ago and is closed now.
    static func closedPort() throws -> Int {
        let (descriptor, port) = try socketOnLoopback()
        close(descriptor)
        return port
    }

    /// A TCP socket bound to a free port of 127.0.0.1, and the port.
    static func socketOnLoopback() throws -> (Int32, Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(descriptor >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0
                && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else {
            close(descriptor)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }
}
