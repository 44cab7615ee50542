import KeepStore
import KeepTestSupport

func makeService(_ kind: BackendKind, clock: TestClock = .stepping()) throws -> SessionService {
    SessionService(storage: try kind.makeStorage(), clock: clock.clock)
}
