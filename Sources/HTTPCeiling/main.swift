import Foundation
import Hummingbird

// The HTTP benchmark's ceiling (scripts/bench.sh http): Hummingbird alone,
// answering a constant on the paths the benchmark calls, with nothing of
// Keep behind it. A PUT reads its whole body first, as any JSON route must.
//
// Usage: HTTPCeiling [PORT]   (0, the default, picks a free port)
// Prints `ceiling: listening on http://127.0.0.1:PORT` on standard error once
// it accepts connections; stops on SIGINT/SIGTERM.

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0
// A constant of the size of a session's metadata as Keep answers it.
let constant = ByteBuffer(string: #"{"id":"ceiling00000","ownerId":"bench","title":"Well study","description":null,"#
    + #""createdAt":"2026-12-05T12:00:00.000Z","updatedAt":"2026-12-05T12:00:00.000Z","version":1,"#
    + #""contentHash":"0000000000000000000000000000000000000000000000000000000000000000"}"#)
let maxBody = 16 << 20

@Sendable func answer() -> Response {
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: constant))
}

let router = Router()
router.get("/api/persistence/sessions/metadata/{id}") { _, _ in answer() }
router.get("/api/persistence/sessions/{id}") { _, _ in answer() }
router.put("/api/persistence/sessions/{id}") { request, _ in
    _ = try await request.body.collect(upTo: maxBody)
    return answer()
}

let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
    onServerRunning: { channel in
        let bound = channel.localAddress?.port ?? port
        FileHandle.standardError.write(Data("ceiling: listening on http://127.0.0.1:\(bound)\n".utf8))
    }
)
try await app.runService()
