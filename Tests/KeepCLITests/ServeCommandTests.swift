import Foundation
import KeepTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `keep serve` as a user runs it: the built binary on a free loopback
/// port, spoken to over TCP. Each test acts on what the server reports (its
/// start line, its answers, /readyz), never on a guessed time.
@Suite struct ServeCommandTests {
    static let tokens = ["ana": "ana-token-0123456789abcdef", "bob": "bob-token-0123456789abcdef"]

    /// A running `keep serve`; killed when the test is done with it.
    final class Server {
        let process: Process
        let output = ProcessOutput()
        let port: Int
        let directory: URL

        init(_ kind: BackendKind = .sqlite, arguments: [String] = [], policies: String? = nil) throws {
            directory = try KeepBinary.temporaryDirectory()
            let tokens = directory.appendingPathComponent("tokens")
            try ServeCommandTests.tokens.map { "\($0.value) \($0.key)" }.joined(separator: "\n")
                .write(to: tokens, atomically: true, encoding: .utf8)
            let database = kind == .postgres ? try BackendKind.freshPostgresURL() : directory.appendingPathComponent("keep.sqlite").path
            process = try KeepBinary.start(["serve", "--db", database, "--port", "0", "--auth-tokens", tokens.path,
                                            "--policies", policies ?? Checkout.policies.path] + arguments)
            output.read((process.standardOutput as! Pipe).fileHandleForReading)
            output.read((process.standardError as! Pipe).fileHandleForReading)
            let started = output.wait { $0[1].contains { $0.contains("listening on http://") } }
            let line = output.all[1].first { $0.contains("listening on http://") }
            guard started, let line, let match = line.firstMatch(of: /http:\/\/127\.0\.0\.1:(\d+)/), let port = Int(match.1) else {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                throw LoopbackHTTP.Failure(description: "keep serve did not start: \(output.all)")
            }
            self.port = port
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        func connect() throws -> LoopbackHTTP {
            guard let connection = LoopbackHTTP(port: port) else { throw LoopbackHTTP.Failure(description: "cannot connect to \(port)") }
            return connection
        }

        /// One request on a connection of its own, as `user`.
        func call(_ method: String, _ path: String, as user: String? = "ana", json: String? = nil,
                  headers: [String: String] = [:]) throws -> LoopbackHTTP.Answer {
            try connect().request(method, path, token: user.flatMap { ServeCommandTests.tokens[$0] }, json: json, headers: headers)
        }

        func create(_ kind: String = "sessions", title: String = "Q3", content: String = "{}", as user: String = "ana") throws -> String {
            let answer = try call("POST", "/api/persistence/\(kind)", as: user, json: Self.encode(["title": title, "content": content]))
            guard answer.status == 200, let id = answer.string else { throw LoopbackHTTP.Failure(description: "create: \(answer.text)") }
            return id
        }

        static func encode(_ object: [String: String]) -> String {
            String(decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data(), as: UTF8.self)
        }

        /// Polls `check` until it holds (a deadline as a safety net, not a schedule).
        func eventually(_ check: () throws -> Bool) rethrows -> Bool {
            let deadline = Date(timeIntervalSinceNow: 60)
            while Date() < deadline {
                if try check() { return true }
                usleep(20_000)
            }
            return try check()
        }

        /// Sends SIGTERM and waits for the exit.
        func terminate() -> (reason: Process.TerminationReason, status: Int32) {
            process.terminate()
            process.waitUntilExit()
            return (process.terminationReason, process.terminationStatus)
        }
    }

    @Test(arguments: BackendKind.allCases)
    func twoUsersOwnershipAndStatusCodesOverLoopback(_ kind: BackendKind) throws {
        let server = try Server(kind)
        let session = try server.create()
        let read = try server.call("GET", "/api/persistence/sessions/\(session)")
        #expect(read.status == 200 && read.header("ETag") == "\"1\"")
        #expect(read.header("X-Request-Id")?.isEmpty == false)
        #expect(try server.call("GET", "/api/persistence/sessions/\(session)", as: "bob").status == 404)
        let snapshot = try server.create("snapshots")
        #expect(try server.call("GET", "/api/persistence/snapshots/\(snapshot)", as: "bob").status == 200)
        #expect(try server.call("DELETE", "/api/persistence/snapshots/\(snapshot)", as: "bob").status == 403)
        let anonymous = try server.call("GET", "/api/persistence/sessions", as: nil)
        #expect(anonymous.status == 401 && anonymous.header("WWW-Authenticate") == "Bearer")
        #expect(try server.call("POST", "/api/persistence/sessions", json: "{").status == 400)
        #expect(try server.call("POST", "/api/persistence/sessions", json: "x", headers: ["Content-Type": "text/plain"]).status == 415)
        #expect(try server.call("POST", "/api/persistence/sessions", json: #"{"content": ""}"#).status == 422)
        #expect(try server.call("GET", "/api/persistence/sessions?page_size=many").status == 400)
        #expect(try server.call("PATCH", "/api/persistence/sessions/\(session)").status == 405)
        #expect(try server.call("PUT", "/api/persistence/sessions/\(session)", json: "{}", headers: ["If-Match": "\"9\""]).status == 412)
        #expect(try server.call("PUT", "/api/persistence/sessions/\(session)", json: "{}", headers: ["If-Match": "nine"]).status == 400)
        let big = try server.call("POST", "/api/persistence/sessions",
                                  json: Server.encode(["title": "big", "content": String(repeating: "x", count: 1_572_865)]))
        #expect(big.status == 413 && big.errorType == "too_large")
        // Over the body limit: answered from the Content-Length, before the body is read.
        let connection = try server.connect()
        try connection.send(LoopbackHTTP.head("POST", "/api/persistence/sessions",
                                              headers: ["Authorization": "Bearer \(Self.tokens["ana"]!)", "Content-Type": "application/json"],
                                              bodyLength: 10_000_000))
        #expect(try connection.readAnswer().status == 413)

        // Paging through tokens.
        for index in 0 ..< 4 { _ = try server.create(title: "p\(index)") }
        var titles: [String] = []
        var cursor: String?
        repeat {
            let query = "page_size=2&sort_by=metadata.title&sort_direction=asc"
                + (cursor.map { "&cursor=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? "")
            let page = try server.call("GET", "/api/persistence/sessions?\(query)")
            try #require(page.status == 200, "\(page.text)")
            titles += (page.json["items"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
            cursor = page.json["pageToken"] as? String
        } while cursor != nil
        #expect(titles == ["p0", "p1", "p2", "p3", "Q3"])
        #expect(server.terminate() == (.exit, 0))
    }

    @Test(arguments: BackendKind.allCases)
    func concurrentConditionalPutsOfOneVersionGiveOne200AndOne412(_ kind: BackendKind) throws {
        let server = try Server(kind)
        for round in 0 ..< 5 {
            let id = try server.create(title: "race \(round)")
            let statuses = Mutex<[Int]>([])
            let port = server.port
            DispatchQueue.concurrentPerform(iterations: 2) { index in
                let status = (try? LoopbackHTTP(port: port)?.request("PUT", "/api/persistence/sessions/\(id)", token: Self.tokens["ana"],
                                                              json: #"{"content": "w\#(index)"}"#, headers: ["If-Match": "\"1\""]).status) ?? 0
                statuses.withLock { $0.append(status) }
            }
            #expect(statuses.withLock { $0.sorted() } == [200, 412], "round \(round)")
        }
        #expect(server.terminate() == (.exit, 0))
    }

    @Test func aContentOfOneAndAHalfMiBOfEscapesRoundTrips() throws {
        let server = try Server()
        let unit = "\"\\\u{01}\u{1F}\n\t"
        let content = String(repeating: unit, count: 1_572_864 / unit.utf8.count)
            + String(repeating: "\u{02}", count: 1_572_864 % unit.utf8.count)
        let id = try server.create(content: content)
        let read = try server.call("GET", "/api/persistence/sessions/\(id)")
        #expect(read.status == 200 && read.json["content"] as? String == content)
        #expect(server.terminate() == (.exit, 0))
    }

    @Test(arguments: BackendKind.allCases)
    func aSnapshotDeleteAnswersAtOnceAndTheWorkersMarkOtherVisitorsLogs(_ kind: BackendKind) throws {
        let server = try Server(kind, arguments: ["--workers", "1"])
        let snapshot = try server.create("snapshots", title: "shared")
        #expect(try server.call("GET", "/api/persistence/snapshots/\(snapshot)", as: "bob").status == 200)
        #expect(try server.call("GET", "/api/persistence/snapshots/\(snapshot)", as: "bob").status == 200)
        let logs = try server.call("GET", "/api/persistence/snapshot_access_logs", as: "bob")
        #expect((logs.json["items"] as? [[String: Any]])?.first?["visits"] as? Int == 1, "the second visit is within the rate limit")
        #expect(try server.call("DELETE", "/api/persistence/snapshots/\(snapshot)").status == 200)
        let marked = try server.eventually {
            let logs = try server.call("GET", "/api/persistence/snapshot_access_logs", as: "bob")
            return (logs.json["items"] as? [[String: Any]])?.first?["snapshotDeleted"] as? Bool == true
        }
        #expect(marked, "the in-process worker ran the job")
        let own = try server.call("GET", "/api/persistence/snapshot_access_logs")
        #expect((own.json["items"] as? [Any])?.isEmpty == true, "the owner's own log is removed with the snapshot")
        #expect(server.terminate() == (.exit, 0))
    }

    @Test func aPolicyEditAppliesWhileServing() throws {
        let policies = try KeepBinary.temporaryDirectory()
        for file in try FileManager.default.contentsOfDirectory(atPath: Checkout.policies.path) where file.hasSuffix(".lua") {
            try FileManager.default.copyItem(at: Checkout.policies.appendingPathComponent(file), to: policies.appendingPathComponent(file))
        }
        let server = try Server(policies: policies.path)
        func version() throws -> Int? { (try server.call("GET", "/readyz", as: nil).json["policies"] as? [String: Any])?["version"] as? Int }
        #expect(try version() == 1)
        let title = String(repeating: "t", count: 20)
        #expect(try server.call("POST", "/api/persistence/sessions", json: Server.encode(["title": title, "content": "{}"])).status == 200)
        let validation = policies.appendingPathComponent("validation.lua")
        let text = try String(contentsOf: validation, encoding: .utf8)
        try text.replacingOccurrences(of: "local MAX_TITLE_CHARACTERS = 50", with: "local MAX_TITLE_CHARACTERS = 10")
            .write(to: validation, atomically: true, encoding: .utf8)
        // An editor's save may be seen as more than one change (Foundation's
        // atomic write makes a temporary file, then renames it over the
        // policy): wait for a reload, then for one that has the edit.
        #expect(try server.eventually { try (version() ?? 0) >= 2 }, "the edit was loaded")
        var refused: (status: Int, errorType: String?)?
        #expect(try server.eventually {
            let answer = try server.call("POST", "/api/persistence/sessions", json: Server.encode(["title": title, "content": "{}"]))
            refused = (answer.status, answer.errorType)
            return answer.status == 422
        }, "the edited policy refuses a title it allowed before")
        #expect(refused?.errorType == "invalid")
        #expect(server.terminate() == (.exit, 0))
    }

    @Test func sigtermLetsARequestInFlightFinishThenExitsZero() throws {
        let server = try Server()
        let id = try server.create()
        let connection = try server.connect()
        #expect(try connection.request("GET", "/healthz").status == 200, "the server holds this connection")
        let body = Data(#"{"title": "finished after SIGTERM"}"#.utf8)
        try connection.send(LoopbackHTTP.head("PUT", "/api/persistence/sessions/\(id)",
                                              headers: ["Authorization": "Bearer \(Self.tokens["ana"]!)", "Content-Type": "application/json"],
                                              bodyLength: body.count))
        try connection.send(body.prefix(10))
        // The server has read what was sent: the request is in flight.
        #expect(server.eventually { connection.unreadByServer() == 0 }, "unread: \(String(describing: connection.unreadByServer()))")
        kill(server.process.processIdentifier, SIGTERM)
        // It stops listening once it has the signal; the request is still open.
        #expect(server.eventually { LoopbackHTTP(port: server.port) == nil }, "the server stopped taking connections")
        try connection.send(body.dropFirst(10))
        let answer = try connection.readAnswer()
        #expect(answer.status == 200 && (answer.json["metadata"] as? [String: Any])?["title"] as? String == "finished after SIGTERM",
                "\(answer.status) \(answer.text)")
        server.process.waitUntilExit()
        #expect(server.process.terminationReason == .exit && server.process.terminationStatus == 0)
    }

    @Test func eachRequestIsLoggedOnceWithItsIdButNeverItsTokenOrContent() throws {
        let server = try Server()
        let secret = "content-that-must-not-be-logged"
        let created = try server.call("POST", "/api/persistence/sessions", json: Server.encode(["title": "logged", "content": secret]),
                                      headers: ["X-Request-Id": "trace-42"])
        #expect(created.status == 200 && created.header("X-Request-Id") == "trace-42")
        let refused = try server.call("GET", "/api/persistence/sessions/nope", headers: ["X-Request-Id": "trace-43"])
        #expect(refused.status == 404)
        // Lines are written together, at the latest a moment later: wait for them.
        func lines(_ id: String) -> [String] { server.output.all[1].filter { $0.contains("request_id=\(id)") } }
        #expect(server.eventually { !lines("trace-43").isEmpty }, "\(server.output.all[1])")
        let create = lines("trace-42"), missing = lines("trace-43")
        #expect(create.count == 1 && missing.count == 1)
        #expect(create.first?.contains("method=POST") == true && create.first?.contains("route=/api/persistence/sessions") == true
            && create.first?.contains("status=200") == true && create.first?.contains("user=ana") == true, "\(create)")
        #expect(missing.first?.contains("status=404") == true && missing.first?.contains("route=/api/persistence/sessions/{session_id}") == true,
                "\(missing)")
        #expect(create.first?.firstMatch(of: #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info keep\.serve: /#) != nil, "\(create)")
        #expect(server.terminate() == (.exit, 0))
        let everything = server.output.all.joined().joined(separator: "\n")
        #expect(!everything.contains(secret) && !everything.contains(Self.tokens["ana"]!))
    }

    @Test func aBodyThatNeverArrivesTimesOut() throws {
        let server = try Server(arguments: ["--read-timeout", "500ms"])
        let connection = try server.connect()
        try connection.send(LoopbackHTTP.head("POST", "/api/persistence/sessions",
                                              headers: ["Authorization": "Bearer \(Self.tokens["ana"]!)", "Content-Type": "application/json"],
                                              bodyLength: 100))
        try connection.send(Data("{".utf8))
        let answer = try connection.readAnswer()
        #expect(answer.status == 408)
        #expect(throws: LoopbackHTTP.Failure.self, "the connection is closed after the 408") { try connection.readAnswer() }
        #expect(try server.call("GET", "/healthz", as: nil).status == 200, "the server goes on")
        #expect(server.terminate() == (.exit, 0))
    }

    @Test func startingNeedsAWayToAuthenticateAndDevUserOnlyOnLoopback() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let db = directory.appendingPathComponent("keep.sqlite").path
        let none = try KeepBinary.run(["serve", "--db", db, "--port", "0"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("--auth-tokens") && none.stderr.contains("--jwt-keys") && none.stderr.contains("--dev-user"), "\(none.stderr)")
        let exposed = try KeepBinary.run(["serve", "--db", db, "--host", "0.0.0.0", "--dev-user", "ana"])
        #expect(exposed.status == 2 && exposed.stderr.contains("loopback"), "\(exposed.stderr)")
        let jwt = try KeepBinary.run(["serve", "--db", db, "--jwt-keys", "/nonexistent"])
        #expect(jwt.status == 2 && jwt.stderr.contains("--jwt-issuer"), "\(jwt.stderr)")
        let badUser = try KeepBinary.run(["serve", "--db", db, "--dev-user", " ana"])
        #expect(badUser.status == 2)

        let server = try Server(arguments: ["--dev-user", "dev"])
        #expect(server.output.all[1].contains { $0.contains("--dev-user") && $0.contains("dev") }, "announced at start")
        let mine = try server.call("POST", "/api/persistence/sessions", as: nil, json: #"{"title": "x", "content": ""}"#)
        #expect(mine.status == 200)
        let metadata = try server.call("GET", "/api/persistence/sessions/metadata/\(mine.string ?? "")", as: nil)
        #expect(metadata.json["ownerId"] as? String == "dev")
        #expect(server.terminate() == (.exit, 0))
    }
}
