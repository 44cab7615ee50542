import GRDB
import Synchronization

/// The read-only connections every read runs on, each used by one thread
/// at a time: a read takes an idle connection (opening one when none is
/// idle), runs on the calling thread, and puts it back. So there are at
/// most as many as threads ever read at once.
///
/// GRDB's `DatabasePool` does the same, but finding a reader there took
/// longer than a point read itself (key paths built on every call, and two
/// threads queueing on the pool's own dispatch queue), measured with
/// `perf record` under `scripts/bench.sh http`.
final class ReaderConnections: Sendable {
    private let path: String
    private let configuration: Configuration
    private let idle = Mutex<[DatabaseQueue]>([])

    /// Opens the first connection at once, so that a file that cannot be
    /// read fails here.
    init(path: String, configuration: Configuration) throws {
        self.path = path
        self.configuration = configuration
        let first = try DatabaseQueue(path: path, configuration: configuration)
        idle.withLock { $0.append(first) }
    }

    /// `body` on a connection of its own, outside any explicit transaction:
    /// for a single statement, its own transaction in SQLite.
    func statement<T>(_ body: (Database) throws -> T) throws -> T {
        try withConnection { try $0.inDatabase(body) }
    }

    /// `body` in a read transaction: several statements see one commit.
    func transaction<T>(_ body: (Database) throws -> T) throws -> T {
        try withConnection { try $0.read(body) }
    }

    /// Closes the idle connections (all of them once reads have stopped).
    func close() throws {
        let connections = idle.withLock { idle in
            defer { idle.removeAll() }
            return idle
        }
        for connection in connections { try connection.close() }
    }

    private func withConnection<T>(_ body: (DatabaseQueue) throws -> T) throws -> T {
        let connection = try idle.withLock { $0.popLast() } ?? DatabaseQueue(path: path, configuration: configuration)
        defer { idle.withLock { $0.append(connection) } }
        return try body(connection)
    }
}
