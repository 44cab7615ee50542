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
/// itself: PostgresNIO's protocol handlers (and TLS, when the URL asks for
/// it) run on an `EmbeddedChannel`, and the thread that runs a statement
/// sends the bytes they wrote and blocks on the socket until the answer is
/// in (`ChannelPump.wait(for:)`).
///
/// Why: a script or the REPL runs one statement at a time from its own
/// thread. Through an event loop, each statement wakes the loop's thread and
/// then the caller's, which on a small machine cost more than the statement
/// itself; here a statement is one `send` and one `recv`, as for libpq.
/// Statements go through the driver's future-based prepared-query API
/// (`PreparedQuery`), whose rows arrive in a callback, and the thread waits
/// for the future without suspending its task: the async API would suspend
/// it and stream the rows through an async sequence, which made a read by
/// key about a tenth slower (docs/postgres.md, "Where the time goes").
///
/// An `EmbeddedChannel` belongs to the thread that made it: only that thread
/// uses the connection (`owner`); statements from any other thread take a
/// pooled connection. Only a thread of its own may use it (one waiting in
/// `blocking`): it blocks in `recv`, and while a statement runs, the jobs
/// queued for its `blocking` call wait.
final class CallerDrivenConnection: @unchecked Sendable {
    let connection: PostgresConnection
    /// Its I/O, served by the thread running a statement.
    let pump: ChannelPump
    /// Whether the URL allows TLS (the session may then be encrypted).
    private let mayUseTLS: Bool
    /// The thread that made it, the only one that may use it.
    let owner: pthread_t
    /// Keep's statements prepared on it so far, by `PostgresPreparedStatement.name`.
    private var prepared: [String: PreparedQuery] = [:]

    private init(connection: PostgresConnection, pump: ChannelPump, mayUseTLS: Bool) {
        self.connection = connection
        self.pump = pump
        self.mayUseTLS = mayUseTLS
        owner = pthread_self()
    }

    /// Whether the calling thread is the one that may use it.
    var isOwnedByCallingThread: Bool { pthread_equal(owner, pthread_self()) != 0 }

    /// Connects to `location` and authenticates, within the connect timeout,
    /// the calling thread doing the I/O.
    static func connect(_ location: PostgresLocation) throws -> CallerDrivenConnection {
        let deadline = NIODeadline.now() + .seconds(Int64(location.connectTimeoutSeconds))
        let (socket, peer) = try Socket.connect(host: location.host, port: location.port, deadline: deadline)
        let pump = ChannelPump(socket: socket, deadline: deadline)
        do {
            // The channel's peer is the socket's, which TLS checks a certificate's IP addresses against.
            pump.channel.connect(to: peer, promise: nil)
            let configuration = try PostgresBackend.connectionConfiguration(location, over: pump.channel)
            let connection = try pump.wait(for: PostgresConnection.connect(
                on: pump.channel.embeddedEventLoop, configuration: configuration, id: 0, logger: PostgresBackend.logger))
            pump.deadline = nil
            socket.clearReceiveTimeout()
            return CallerDrivenConnection(connection: connection, pump: pump, mayUseTLS: location.tls != .disable)
        } catch {
            pump.abandon()
            throw error
        }
    }

    /// Runs `statement` and returns its rows, preparing it on first use.
    /// Server errors come as the driver's `PostgresError.server`.
    func rows<Statement: PreparedRowsStatement>(_ statement: Statement) throws -> [PostgresRow] {
        let query: PreparedQuery
        if let known = prepared[Statement.name] {
            query = known
        } else {
            query = try pump.wait(for: connection.prepare(query: Statement.sql))
            prepared[Statement.name] = query
        }
        let rows = RowsReceived()
        try pump.wait(for: query.execute(statement.parameterData) { rows.append($0) })
        return rows.rows
    }

    /// Whether it can take a statement: input that arrived while it was idle
    /// (a notice, or the error the server sends before it closes a
    /// connection) is handed to the handlers first, and a socket the server
    /// closed or that failed makes it unusable.
    func isUsable() -> Bool {
        while !pump.isBroken, !connection.isClosed, pump.socket.isReadable() { pump.receive() }
        return !pump.isBroken && !connection.isClosed
    }

    /// Ends the session and closes the socket, from any thread. On its own
    /// thread, through the driver (which sends PostgreSQL's Terminate).
    /// Only that thread may touch the channel: closed from another (a
    /// backend released or closed elsewhere, as tests do), it sends
    /// Terminate itself on a plain connection, closes the socket, and keeps
    /// the channel and its connection allocated until the process ends (a
    /// few kilobytes: the driver requires a connection to be closed before
    /// it goes).
    func close() {
        if isOwnedByCallingThread {
            connection.close().whenComplete { _ in }
            pump.flush()
            pump.abandon()
        } else {
            // Plain bytes in an encrypted session would be garbage to the server.
            if mayUseTLS { pump.socket.close() } else { pump.socket.terminate() }
            Self.abandoned.withLock { $0.append(self) }
        }
    }

    private static let abandoned = Mutex<[CallerDrivenConnection]>([])
}

/// An `EmbeddedChannel` and the socket whose bytes it reads and writes, on
/// the thread that made them.
final class ChannelPump {
    let channel = EmbeddedChannel()
    let socket: Socket
    /// Set once the socket failed, the server closed it, or a read timed
    /// out: nothing more is read or sent.
    private(set) var isBroken = false
    /// While connecting, when waiting for the server stops.
    var deadline: NIODeadline?

    init(socket: Socket, deadline: NIODeadline?) {
        self.socket = socket
        self.deadline = deadline
    }

    /// The value of `future` (of this channel's loop), sending what the
    /// handlers write and handing them what the server sends until it has
    /// one. A connection that breaks fails it, as on a closed connection;
    /// so does a channel the handlers closed (after a protocol error), whose
    /// pending work may never complete.
    func wait<T>(for future: EventLoopFuture<T>) throws -> T {
        let outcome = Outcome<T>()
        future.whenComplete { outcome.result = $0 }
        flush()
        while outcome.result == nil, !isBroken, channel.isActive {
            receive()
            flush()
        }
        guard let result = outcome.result else { throw PostgresError.connectionClosed }
        return try result.get()
    }

    /// Runs the channel's pending work and sends what it wrote, without blocking.
    func flush() {
        channel.embeddedEventLoop.run()
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            guard !isBroken else { continue }
            if !socket.send(buffer) { broken() }
        }
    }

    /// Blocks until the server sends something and hands it to the handlers.
    func receive() {
        guard !isBroken else { return }
        if let deadline {
            let left = deadline - .now()
            guard left > .zero else { return broken() }
            socket.setReceiveTimeout(left)
        }
        guard let buffer = socket.receive(allocator: channel.allocator) else { return broken() }
        // The handlers report protocol errors through the channel (they fail
        // what waits); writeInbound rethrows them, which changes nothing here.
        _ = try? channel.writeInbound(buffer)
        channel.embeddedEventLoop.run()
    }

    /// The socket failed or the server closed it: what waits on the
    /// connection fails as on a closed connection.
    private func broken() {
        isBroken = true
        closeChannel()
    }

    /// Closes the channel and the socket (on the channel's thread).
    func abandon() {
        isBroken = true
        closeChannel()
        socket.close()
    }

    /// Closes the channel and lets its handlers finish: TLS waits for the
    /// server's close_notify on a timer that only moves when told to.
    private func closeChannel() {
        if channel.isActive { channel.close(promise: nil) }
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
    }
}

/// A future's result, set by a callback on the channel's (the calling) thread.
private final class Outcome<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

/// A statement's rows, appended by the driver's row callback on the calling thread.
private final class RowsReceived: @unchecked Sendable {
    private(set) var rows: [PostgresRow] = []

    func append(_ row: PostgresRow) { rows.append(row) }
}

/// A blocking TCP socket.
struct Socket: Sendable {
    let descriptor: Int32

    /// Connects to the first address of `host` that answers before
    /// `deadline`, with Nagle's algorithm off (a statement is one small
    /// write); returns it and its peer's address.
    static func connect(host: String, port: Int, deadline: NIODeadline) throws -> (Socket, SocketAddress) {
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
            let descriptor = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue),
                                          address.pointee.ai_protocol)
            guard descriptor >= 0 else { failure = errno; continue }
            let socket = Socket(descriptor: descriptor)
            if let error = socket.connect(to: address.pointee.ai_addr, length: address.pointee.ai_addrlen, deadline: deadline) {
                failure = error
                Glibc.close(descriptor)
                continue
            }
            var one: Int32 = 1
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            do {
                var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                guard getnameinfo(address.pointee.ai_addr, address.pointee.ai_addrlen, &text, socklen_t(text.count),
                                  nil, 0, NI_NUMERICHOST) == 0 else { throw IOError(errnoCode: EINVAL, reason: "getnameinfo") }
                return (socket, try SocketAddress(ipAddress: String(cString: text), port: port))
            } catch {
                Glibc.close(descriptor)
                throw error
            }
        }
        throw IOError(errnoCode: failure, reason: "connect")
    }

    /// nil, or the errno of a connect that failed or did not finish in time.
    private func connect(to address: UnsafePointer<sockaddr>, length: socklen_t, deadline: NIODeadline) -> Int32? {
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(descriptor, F_SETFL, flags) }
        if Glibc.connect(descriptor, address, length) == 0 { return nil }
        guard errno == EINPROGRESS else { return errno }
        var poll = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        while true {
            let left = (deadline - .now()).nanoseconds / 1_000_000
            guard left > 0 else { return ETIMEDOUT }
            let ready = Glibc.poll(&poll, 1, Int32(clamping: left))
            if ready < 0, errno == EINTR { continue }
            guard ready == 1 else { return ready == 0 ? ETIMEDOUT : errno }
            break
        }
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &size)
        return error == 0 ? nil : error
    }

    /// Reads time out after `amount` (at least a millisecond).
    func setReceiveTimeout(_ amount: TimeAmount) {
        let microseconds = max(1000, amount.nanoseconds / 1000)
        var timeout = timeval(tv_sec: Int(microseconds / 1_000_000), tv_usec: Int(microseconds % 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Reads wait as long as it takes.
    func clearReceiveTimeout() {
        var timeout = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

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

extension String {
    /// Whether it is an IPv4 or IPv6 address rather than a host name.
    var isIPAddress: Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, self, &address) == 1 || inet_pton(AF_INET6, self, &address) == 1
    }
}
