import KeepStore
import KeepTestSupport

func makeService(_ kind: BackendKind, clock: TestClock = .stepping()) async throws -> SessionService {
    SessionService(storage: try await kind.makeStorage(), clock: clock.clock)
}
