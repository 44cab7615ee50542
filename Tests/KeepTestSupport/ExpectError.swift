import KeepCore
import Testing

/// Expects `body` to throw a `KeepError` with `code`.
public func expectError<R>(_ code: KeepError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                           _ body: () async throws -> R) async {
    let error = await #expect(throws: KeepError.self, sourceLocation: sourceLocation) { try await body() }
    #expect(error?.code == code, "\(error.map(String.init(describing:)) ?? "no error")", sourceLocation: sourceLocation)
}

/// `expectError` for synchronous code.
public func expectErrorNow<R>(_ code: KeepError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                              _ body: () throws -> R) {
    let error = #expect(throws: KeepError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, "\(error.map(String.init(describing:)) ?? "no error")", sourceLocation: sourceLocation)
}
