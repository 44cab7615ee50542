#if canImport(Glibc)
import Glibc
#endif
import KeepCore
import KeepStore
import NIOCore
import NIOEmbedded
import PostgresNIO
import Synchronization

/// A PostgreSQL connection whose socket the calling thread reads and writes
/// itself: PostgresNIO's protocol handlers run on an `EmbeddedChannel`, and
/// the thread that waits in `blocking` for a statement sends the bytes they
/// wrote and blocks on the socket for the answer (`CallerDrivenIO`).
///
/// Why: a script or the REPL runs one statement at a time from its own
/// thread. Through an event loop, each statement wakes the loop's thread and
/// then the caller's, which on a small machine cost more than the statement
/// itself; here a statement is one `send` and one `recv`, as for libpq.
///
/// An `EmbeddedChannel` belongs to the thread that made it: only that thread
/// uses the connection (`owner`); statements from any other thread take a
/// pooled connection. Closing it from any thread sends the protocol's
/// Terminate message on the socket and closes it, without touching the channel.
final class CallerDrivenConnection: CallerDrivenIO, @unchecked Sendable {
    let connection: PostgresConnection
    private let channel: EmbeddedChannel
    private let socket: Socket
    /// The thread that made it, the only one that may use it.
    let owner: pthread_t

    private init(connection: PostgresConnection, channel: EmbeddedChannel, socket: Socket) {
        self.connection = connection
        self.channel = channel
        self.socket = socket
        owner = pthread_self()
    }

    /// Whether the calling thread is the one that may use it.
    var isOwnedByCallingThread: Bool { pthread_equal(owner, pthread_self()) != 0 }

    /// Connects to `location` and authenticates, within the connect timeout,
    /// with the calling thread doing the I/O. Call it from a task that runs
    /// in `blocking` (`executor` is its executor).
    static func connect(_ location: PostgresLocation, executor: CallingThreadExecutor,
                        configuration: (any Channel) throws -> PostgresConnection.Configuration) async throws -> CallerDrivenConnection {
        let socket = try Socket.connect(host: location.host, port: location.port, timeoutSeconds: location.connectTimeoutSeconds)
        let channel = EmbeddedChannel()
        let io = Handshake(channel: channel, socket: socket)
        do {
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: location.port)).get()
            let connection = try await executor.waiting(on: io) {
                try await PostgresConnection.connect(on: channel.embeddedEventLoop, configuration: try configuration(channel),
                                                     id: 0, logger: PostgresBackend.logger).get()
            }
            socket.clearReceiveTimeout()
            return CallerDrivenConnection(connection: connection, channel: channel, socket: socket)
        } catch {
            channel.close(promise: nil)
            channel.embeddedEventLoop.run()
            socket.close()
            throw error
        }
    }

    /// Whether it can take a statement: input that arrived while it was idle
    /// (a notice, or the error the server sends before it closes a
    /// connection) is handed to the handlers first, and a socket the server
    /// closed closes the connection.
    func isUsable() -> Bool {
        while !connection.isClosed, socket.isReadable() { receive() }
        return !connection.isClosed
    }

    func flush() { Self.flush(channel, socket) }

    func receive() { Self.receive(channel, socket) }

    /// Ends the session and closes the socket, from any thread. Only the
    /// owner may close the channel; closed from another thread (a backend
    /// released or closed elsewhere, as tests do), the channel and its
    /// connection stay allocated until the process ends, a few kilobytes,
    /// since the driver requires a connection to be closed before it goes.
    func close() {
        if isOwnedByCallingThread {
            connection.close().whenComplete { _ in }
            flush()
            socket.close()
        } else {
            socket.terminate()
            Self.abandoned.withLock { $0.append(self) }
        }
    }

    private static let abandoned = Mutex<[CallerDrivenConnection]>([])

    fileprivate static func flush(_ channel: EmbeddedChannel, _ socket: Socket) {
        channel.embeddedEventLoop.run()
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            guard socket.send(buffer) else {
                brokenConnection(channel)
                return
            }
        }
    }

    fileprivate static func receive(_ channel: EmbeddedChannel, _ socket: Socket) {
        guard channel.isActive, let buffer = socket.receive(allocator: channel.allocator) else {
            brokenConnection(channel)
            return
        }
        // The handlers report protocol errors through the channel (they fail
        // what waits); writeInbound rethrows them, which changes nothing here.
        _ = try? channel.writeInbound(buffer)
        channel.embeddedEventLoop.run()
    }

    /// The socket failed or the server closed it: what waits on the
    /// connection fails as on a closed connection.
    private static func brokenConnection(_ channel: EmbeddedChannel) {
        guard channel.isActive else { return }
        channel.close(promise: nil)
        channel.embeddedEventLoop.run()
    }

    /// The I/O of a connection being set up.
    private final class Handshake: CallerDrivenIO {
        let channel: EmbeddedChannel
        let socket: Socket

        init(channel: EmbeddedChannel, socket: Socket) {
            self.channel = channel
            self.socket = socket
        }

        func flush() { CallerDrivenConnection.flush(channel, socket) }
        func receive() { CallerDrivenConnection.receive(channel, socket) }
    }
}

/// A blocking TCP socket.
struct Socket: Sendable {
    let descriptor: Int32

    /// Connects to the first address of `host` that answers within the timeout,
    /// with Nagle's algorithm off (a statement is one small write); reads time
    /// out after `timeoutSeconds` until `clearReceiveTimeout`.
    static func connect(host: String, port: Int, timeoutSeconds: Int) throws -> Socket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var addresses: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &addresses) == 0, let first = addresses else {
            throw IOError(errnoCode: EHOSTUNREACH, reason: "getaddrinfo")
        }
        defer { freeaddrinfo(first) }
        var failure = ECONNREFUSED
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let address = next {
            next = address.pointee.ai_next
            let descriptor = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard descriptor >= 0 else { failure = errno; continue }
            let socket = Socket(descriptor: descriptor)
            if let error = socket.connect(to: address.pointee.ai_addr, length: address.pointee.ai_addrlen,
                                          timeoutSeconds: timeoutSeconds) {
                failure = error
                Glibc.close(descriptor)
                continue
            }
            var one: Int32 = 1
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            socket.setReceiveTimeout(seconds: timeoutSeconds)
            return socket
        }
        throw IOError(errnoCode: failure, reason: "connect")
    }

    /// nil, or the errno of a connect that failed or did not finish in time.
    private func connect(to address: UnsafePointer<sockaddr>, length: socklen_t, timeoutSeconds: Int) -> Int32? {
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(descriptor, F_SETFL, flags) }
        if Glibc.connect(descriptor, address, length) == 0 { return nil }
        guard errno == EINPROGRESS else { return errno }
        var poll = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        guard Glibc.poll(&poll, 1, Int32(timeoutSeconds * 1000)) == 1 else { return ETIMEDOUT }
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &size)
        return error == 0 ? nil : error
    }

    private func setReceiveTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func clearReceiveTimeout() { setReceiveTimeout(seconds: 0) }

    /// Sends all of `buffer`; false when the connection broke.
    func send(_ buffer: ByteBuffer) -> Bool {
        var buffer = buffer
        while buffer.readableBytes > 0 {
            let sent = buffer.withUnsafeReadableBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else { return false }
            buffer.moveReaderIndex(forwardBy: sent)
        }
        return true
    }

    /// What the server sent next (blocking), or nil when the connection
    /// closed, broke or timed out.
    func receive(allocator: ByteBufferAllocator) -> ByteBuffer? {
        var buffer = allocator.buffer(capacity: 16 << 10)
        while true {
            let received = buffer.withUnsafeMutableWritableBytes { Glibc.recv(descriptor, $0.baseAddress, $0.count, 0) }
            if received < 0, errno == EINTR { continue }
            guard received > 0 else { return nil }
            buffer.moveWriterIndex(forwardBy: received)
            return buffer
        }
    }

    /// Whether a read would not block (input, the server's close, or an error).
    func isReadable() -> Bool {
        var poll = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&poll, 1, 0) == 1
    }

    /// Sends the protocol's Terminate message, as a client ending its
    /// session does (the server then logs no broken connection), and closes.
    func terminate() {
        var message = ByteBuffer()
        message.writeInteger(UInt8(ascii: "X"))
        message.writeInteger(Int32(4))
        _ = send(message)
        close()
    }

    func close() { Glibc.close(descriptor) }
}
