import Hummingbird
import KeepCore
import Synchronization

/// What a request carries through the middlewares to its handler: the
/// request id (echoed as `X-Request-Id`) and, once authenticated, the user.
public struct KeepRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The user the request acts as (set by `AuthenticationMiddleware`).
    public var user: UserID?
    /// The client's `X-Request-Id`, or one made up for the request.
    public var requestID: String
    /// The user, for the request's log line.
    let userRecord = UserRecord()

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        requestID = RequestID.make()
    }

    /// Bodies are read by `JSONBodyReader`, which sets its own limit.
    public var maxUploadSize: Int { JSONBodyReader.maximumBytes }

    /// The authenticated user; a route behind `AuthenticationMiddleware` always has one.
    func actingUser() throws(APIError) -> UserID {
        guard let user else { throw APIError.unauthorized("no credentials were sent", challenge: "Bearer") }
        return user
    }
}

/// Request ids: the client's when it sends a usable one, else 16 hex digits
/// — a random prefix drawn once per process, then a count — unique within
/// the process and, with high probability, across the processes of a fleet.
/// Counting instead of drawing each id saves a system call per request.
enum RequestID {
    private static let prefix = UInt64(UInt32.random(in: .min ... .max)) << 32
    private static let count = Atomic<UInt32>(0)

    static func make() -> String {
        let value = prefix | UInt64(count.wrappingAdd(1, ordering: .relaxed).newValue)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// A client's id is echoed when it is 1 to 128 visible ASCII characters
    /// (it goes into logs and headers as is); otherwise a new one is made.
    static func accept(_ text: String?) -> String? {
        guard let text, (1 ... 128).contains(text.utf8.count),
              text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return text
    }
}
