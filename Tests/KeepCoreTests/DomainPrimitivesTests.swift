import KeepCore
import Testing

struct ResourceIDTests {
    @Test func tenThousandIdsAreUniqueWellFormedAndUniform() {
        let ids = (0 ..< 10_000).map { _ in ResourceID.generate() }
        #expect(Set(ids).count == ids.count)
        var counts = [UInt8: Int]()
        for id in ids {
            #expect(id.rawValue.utf8.count == 12)
            for byte in id.rawValue.utf8 { counts[byte, default: 0] += 1 }
        }
        #expect(Set(counts.keys) == Set(ResourceID.alphabet), "every symbol appears, and only those")
        // 120,000 symbols over 64: each count is Binomial(120000, 1/64),
        // mean 1875, sd ≈ 43. ±6 sd fails by chance about once in 10^8 runs.
        let expected = 120_000.0 / 64
        for (symbol, count) in counts {
            #expect(abs(Double(count) - expected) < 6 * 43, "symbol \(UnicodeScalar(symbol)) appeared \(count) times")
        }
        // Pearson's chi-square with 63 degrees of freedom: 140 is far past p = 10^-6.
        let chiSquare = counts.values.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        #expect(chiSquare < 140, "chi-square \(chiSquare)")
    }

    @Test func parsingRejectsWhatIsNotAnId() throws {
        #expect(try ResourceID("Ab3_x9Kq2LmZ").rawValue == "Ab3_x9Kq2LmZ")
        for bad in ["", "short", "Ab3_x9Kq2LmZZ", "Ab3_x9Kq2Lm!", "Ab3_x9Kq2Lmé"] {
            #expect(throws: KeepError.self) { try ResourceID(bad) }
        }
    }
}

struct TimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_795_761_694_123, "2026-11-27T06:41:34.123Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
    ])
    func formatsAndParsesISO8601(milliseconds: Int64, text: String) throws {
        let timestamp = Timestamp(millisecondsSinceEpoch: milliseconds)
        #expect(timestamp.iso8601 == text)
        #expect(try Timestamp(iso8601: text) == timestamp)
    }

    @Test func yearsPastFourDigitsAreWrittenInFull() {
        #expect(Timestamp(millisecondsSinceEpoch: 253_402_300_800_000).iso8601 == "10000-01-01T00:00:00.000Z")
        #expect(Timestamp(millisecondsSinceEpoch: -62_167_219_200_001).iso8601 == "-0001-12-31T23:59:59.999Z")
    }

    @Test func acceptsShortFormsAndRejectsOthers() throws {
        #expect(try Timestamp(iso8601: "2026-11-27").iso8601 == "2026-11-27T00:00:00.000Z")
        #expect(try Timestamp(iso8601: "2026-11-27T06:41:34Z").iso8601 == "2026-11-27T06:41:34.000Z")
        #expect(try Timestamp(iso8601: "2026-11-27T06:41:34.1Z").iso8601 == "2026-11-27T06:41:34.100Z")
        for bad in ["2026-02-30", "2026-13-01", "2026-11-27T24:00:00Z", "2026-11-27T06:41:34+01:00", "yesterday"] {
            #expect(throws: KeepError.self) { try Timestamp(iso8601: bad) }
        }
    }
}

struct PageSizeTests {
    @Test func followsTheReferenceRule() {
        #expect(PageSize.resolve(nil) == 20)
        #expect(PageSize.resolve(0) == 20)
        #expect(PageSize.resolve(-5) == 20)
        #expect(PageSize.resolve(1) == 1)
        #expect(PageSize.resolve(100) == 100)
        #expect(PageSize.resolve(101) == 100)
    }
}
