import Foundation
import KeepCore

/// Who holds the migration lock: `keep-migrate@host:pid#nonce`, the name a
/// runner stores in the lease (SPEC §7, §10). The random nonce tells apart
/// runners whose host name and pid agree, as in containers.
public struct MigrationHolder: Sendable, Equatable {
    public var host: String
    public var pid: Int32
    public var nonce: String

    public init(host: String, pid: Int32, nonce: String) {
        self.host = host
        self.pid = pid
        self.nonce = nonce
    }

    /// This process, with a fresh nonce.
    public static func thisProcess() -> MigrationHolder {
        MigrationHolder(host: thisHost, pid: getpid(), nonce: String(ResourceID.generate().rawValue.prefix(6)))
    }

    /// Reads a stored holder name; nil for a name of another form.
    public init?(name: String) {
        let prefix = "keep-migrate@"
        guard name.hasPrefix(prefix), let hash = name.lastIndex(of: "#") else { return nil }
        let address = name[name.index(name.startIndex, offsetBy: prefix.count) ..< hash]
        guard let colon = address.lastIndex(of: ":"), let pid = Int32(address[address.index(after: colon)...]), pid > 0
        else { return nil }
        self.init(host: String(address[..<colon]), pid: pid, nonce: String(name[name.index(after: hash)...]))
    }

    public var name: String { "keep-migrate@\(host):\(pid)#\(nonce)" }

    /// Whether this names a process of this host that no longer exists
    /// (`kill(pid, 0)` fails with ESRCH). A process of another host, or one
    /// that exists (or that this user may not signal), counts as alive: its
    /// lease decides.
    public var isGoneFromThisHost: Bool {
        host == Self.thisHost && kill(pid, 0) != 0 && errno == ESRCH
    }

    /// This host's name (`gethostname`), or "localhost" when it has none.
    public static var thisHost: String {
        var name = [UInt8](repeating: 0, count: 256)
        let status = name.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { gethostname($0.baseAddress!, 255) }
        }
        return status == 0 ? String(decoding: name.prefix { $0 != 0 }, as: UTF8.self) : "localhost"
    }
}
