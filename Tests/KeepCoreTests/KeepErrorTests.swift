import KeepCore
import Testing

struct KeepErrorTests {
    @Test func printsCodeAndMessage() {
        let error = KeepError(.tooLarge, "content is 2.31 MiB; the limit is 1.50 MiB")
        #expect(error.description == "too_large: content is 2.31 MiB; the limit is 1.50 MiB")
    }

    @Test func catchMatchesByCode() {
        func fails() throws { throw KeepError(.conflict, "version moved") }
        var matched = false
        do { try fails() } catch KeepError.Code.conflict { matched = true } catch {}
        #expect(matched)
    }

    @Test func codesAreTheSpecifiedOnes() {
        #expect(KeepError.Code.all.map(\.rawValue) == [
            "invalid", "not_found", "forbidden", "conflict", "too_large", "policy", "limit",
            "interrupted", "unavailable", "internal",
        ])
    }
}
