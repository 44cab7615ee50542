import KeepJSON
import Testing

@Suite struct JSONNumberTests {
    private func double(_ literal: String) -> Double {
        Array(literal.utf8).withUnsafeBufferPointer { JSONNumberToken(literal: $0).doubleValue }
    }

    @Test("the fast path reads every number as strtod does")
    func sameAsStrtod() {
        var literals = ["0", "-0", "-0.0", "0.0", "1", "1.5", "89.95382540113775", "9007199254740993", "9007199254740992.5",
                        "1e22", "1e23", "1e-22", "1e-23", "123456789012345678901234567890", "1e400", "-1e400", "1e-400",
                        "0.1", "0.30000000000000004", "5e-324", "1.7976931348623157e308", "2e-7", "1E+2", "0e400",
                        "4.35", "1.0000000000000002", "17976931348623157e292", "1.00000000000000000000001"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0 ..< 20_000 {
            let digits = String(UInt64.random(in: 0 ... 99_999_999_999_999_999, using: &generator))
            let point = Int.random(in: 0 ... digits.count, using: &generator)
            var literal = String(digits.prefix(point).isEmpty ? "0" : digits.prefix(point))
            if point < digits.count { literal += "." + digits.dropFirst(point) }
            if Bool.random(using: &generator) { literal += "e\(Int.random(in: -30 ... 30, using: &generator))" }
            literals.append(Bool.random(using: &generator) ? "-" + literal : literal)
        }
        for literal in literals {
            let expected = Double(literal)!
            let actual = double(literal)
            #expect(actual.bitPattern == expected.bitPattern, "\(literal): \(actual) vs \(expected)")
        }
    }
}
