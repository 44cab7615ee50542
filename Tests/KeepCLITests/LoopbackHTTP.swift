import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 client over a loopback TCP socket, for the live tests of
/// `keep serve`: requests are sent byte for byte as written (so a test can
/// send half a body, or a malformed one), answers are read by
/// Content-Length. Blocking; one request at a time per connection.
final class LoopbackHTTP {
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
        var string: String? { try? JSONSerialization.jsonObject(with: body, options: .fragmentsAllowed) as? String }
        var errorType: String? { (json["error"] as? [String: Any])?["type"] as? String }
        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    let port: Int
    private let socket: Int32
    private var pending = Data()

    /// Connects to 127.0.0.1:`port`; nil when the connection is refused.
    init?(port: Int) {
        self.port = port
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        // A safety net against a server that never answers: 120 s per read.
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        socket = fd
    }

    deinit { close(socket) }

    /// The local port of this connection (to find it in /proc/net/tcp).
    var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func send(_ data: Data) throws {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.send(socket, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                guard written > 0 else { throw Failure(description: "send failed: errno \(errno)") }
                offset += written
            }
        }
    }

    /// The head of a request with `headers` (Host and Content-Length added).
    static func head(_ method: String, _ path: String, headers: [String: String], bodyLength: Int?) -> Data {
        var lines = ["\(method) \(path) HTTP/1.1", "Host: 127.0.0.1"]
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { lines.append("\(name): \(value)") }
        if let bodyLength { lines.append("Content-Length: \(bodyLength)") }
        return Data((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// Sends a whole request and reads its answer.
    func request(_ method: String, _ path: String, token: String? = nil, json: String? = nil,
                 headers: [String: String] = [:]) throws -> Answer {
        var headers = headers
        if let token { headers["Authorization"] = "Bearer \(token)" }
        let body = json.map { Data($0.utf8) }
        if body != nil, headers["Content-Type"] == nil { headers["Content-Type"] = "application/json" }
        try send(Self.head(method, path, headers: headers, bodyLength: body?.count ?? (["POST", "PUT"].contains(method) ? 0 : nil)))
        if let body { try send(body) }
        return try readAnswer()
    }

    /// Reads one answer (its body by Content-Length).
    func readAnswer() throws -> Answer {
        let separator = Data("\r\n\r\n".utf8)
        while pending.range(of: separator) == nil { try fill() }
        let end = pending.range(of: separator)!
        let head = String(decoding: pending[pending.startIndex ..< end.lowerBound], as: UTF8.self)
        pending = Data(pending[end.upperBound...])
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure(description: "bad status line in \(head)") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while pending.count < length { try fill() }
        let body = Data(pending.prefix(length))
        pending = Data(pending.dropFirst(length))
        return Answer(status: status, headers: headers, body: body)
    }

    private func fill() throws {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(socket, &buffer, buffer.count, 0)
        guard count > 0 else { throw Failure(description: count == 0 ? "the server closed the connection" : "recv failed: errno \(errno)") }
        pending.append(contentsOf: buffer[0 ..< count])
    }

    /// Bytes the server has not yet read from this connection (its socket's
    /// receive queue in /proc/net/tcp); nil when the socket is not listed.
    func unreadByServer() -> Int? {
        // Read to the end: /proc files report no size, and a table of many sockets is longer than a page.
        guard let file = FileHandle(forReadingAtPath: "/proc/net/tcp"), let data = try? file.readToEnd() else { return nil }
        let table = String(decoding: data, as: UTF8.self)
        let local = String(format: "0100007F:%04X", port), remote = String(format: "0100007F:%04X", localPort)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[1] == local, fields[2] == remote else { continue }
            let queues = fields[4].split(separator: ":")
            return queues.count == 2 ? Int(queues[1], radix: 16) : nil
        }
        return nil
    }
}
