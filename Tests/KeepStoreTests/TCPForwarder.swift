#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A TCP proxy on 127.0.0.1 to a server, which a test stops (as if the
/// server went away: its port refuses connections and every forwarded
/// connection ends) and starts again on the same port, or makes close each
/// new connection at once (as a server that is shutting down does).
final class TCPForwarder: @unchecked Sendable {
    private(set) var port = 0
    private let targetPort: Int
    private let lock = NSLock()
    /// Guarded by `lock`: the listening socket and every forwarded one.
    private var listener: Int32 = -1
    private var open: Set<Int32> = []
    /// Guarded by `lock`: whether new connections are closed instead of forwarded.
    private var closesNewConnections = false

    /// Starts forwarding a free port to `targetPort` on 127.0.0.1.
    init(to targetPort: Int) throws {
        self.targetPort = targetPort
        try start()
    }

    /// Listens again (on the same port after `stop`).
    func start() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            _ = $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        lock.withLock { listener = descriptor }
        Thread.detachNewThread { [self] in acceptConnections(on: descriptor) }
    }

    /// Ends every forwarded connection and, from now until `stop`, closes
    /// each new one as soon as it is accepted.
    func closeEveryConnection() {
        let ending = lock.withLock {
            closesNewConnections = true
            return open
        }
        for descriptor in ending { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// Closes the port and ends every forwarded connection (their sockets
    /// close when both of their copying threads have seen the end).
    func stop() {
        let (closing, ending) = lock.withLock {
            defer { listener = -1; closesNewConnections = false }
            return (listener, open)
        }
        shutdown(closing, Int32(SHUT_RDWR))
        close(closing)
        for descriptor in ending { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    private func acceptConnections(on listener: Int32) {
        while lock.withLock({ self.listener == listener }) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return  // stopped
            }
            if lock.withLock({ closesNewConnections }) {
                close(client)
                continue
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            let kept = lock.withLock { () -> Bool in
                guard connected == 0, self.listener == listener else { return false }
                open.formUnion([client, server])
                return true
            }
            guard kept else {
                close(client)
                close(server)
                continue
            }
            let ends = Ends()
            let end: @Sendable () -> Void = { [self] in
                let last = lock.withLock {
                    ends.count += 1
                    if ends.count == 2 { open.subtract([client, server]) }
                    return ends.count == 2
                }
                guard last else { return }
                close(client)
                close(server)
            }
            Thread.detachNewThread { Self.copy(from: client, to: server); end() }
            Thread.detachNewThread { Self.copy(from: server, to: client); end() }
        }
    }

    /// Copies bytes until either side ends, then ends both directions.
    private static func copy(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        copying: while true {
            let received = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if received < 0, errno == EINTR { continue }
            guard received > 0 else { break }
            var sent = 0
            while sent < received {
                let written = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + sent, received - sent, Int32(MSG_NOSIGNAL)) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { break copying }
                sent += written
            }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// How many of a forwarded connection's two copying threads have ended (guarded by the forwarder's lock).
private final class Ends: @unchecked Sendable {
    var count = 0
}
