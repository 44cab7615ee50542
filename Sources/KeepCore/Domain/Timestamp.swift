/// A UTC instant with millisecond precision (SPEC §1), shown as ISO-8601
/// `2026-11-27T06:41:34.123Z`. Stored as milliseconds since the Unix epoch, so
/// it sorts and compares as an integer in every backend.
///
/// Written without Foundation, whose start-up cost the CLI avoids.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        a.millisecondsSinceEpoch < b.millisecondsSinceEpoch
    }

    public var description: String { iso8601 }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (a year past 9999 in full, one before 0
    /// with a sign). Written into one buffer: every answer of the HTTP
    /// service holds two or more.
    public var iso8601: String {
        let milliseconds = Int64.floorMod(millisecondsSinceEpoch, 1000)
        let seconds = Int64.floorDiv(millisecondsSinceEpoch, 1000)
        let days = Int64.floorDiv(seconds, 86_400)
        let secondOfDay = Int64.floorMod(seconds, 86_400)
        let (year, month, day) = Self.civil(fromDays: days)
        let yearDigits = max(4, String(year.magnitude).utf8.count)  // a small string: no allocation
        let sign = year < 0 ? 1 : 0
        return String(unsafeUninitializedCapacity: sign + yearDigits + 20) { text in
            var end = 0
            func put(_ value: UInt64, digits: Int, then separator: Unicode.Scalar) {
                var value = value
                for index in stride(from: end + digits - 1, through: end, by: -1) {
                    text[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                text[end + digits] = UInt8(ascii: separator)
                end += digits + 1
            }
            if sign == 1 { text[0] = UInt8(ascii: "-"); end = 1 }
            put(year.magnitude, digits: yearDigits, then: "-")
            put(UInt64(month), digits: 2, then: "-")
            put(UInt64(day), digits: 2, then: "T")
            put(UInt64(secondOfDay / 3600), digits: 2, then: ":")
            put(UInt64(secondOfDay / 60 % 60), digits: 2, then: ":")
            put(UInt64(secondOfDay % 60), digits: 2, then: ".")
            put(UInt64(milliseconds), digits: 3, then: "Z")
            return end
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (UTC only; 1–3 fraction digits; a
    /// date alone means its midnight).
    public init(iso8601 text: String) throws(KeepError) {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int64? {
            guard start + count <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[start ..< start + count] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        let invalid = KeepError(.invalid, "'\(text.prefix(40))' is not a UTC time; use ISO-8601 like 2026-11-27T06:41:34.123Z or 2026-11-27")
        guard let year = number(0, 4), bytes.count >= 10, bytes[4] == 0x2D, bytes[7] == 0x2D,
              let month = number(5, 2), let day = number(8, 2),
              (1 ... 12).contains(month), (1 ... Self.daysIn(month: month, year: year)).contains(day)
        else { throw invalid }
        var milliseconds = Self.days(fromCivil: year, month, day) * 86_400_000
        if bytes.count > 10 {
            guard bytes.count >= 20, bytes[10] == 0x54 || bytes[10] == 0x20, bytes[13] == 0x3A, bytes[16] == 0x3A,
                  let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                  hour < 24, minute < 60, second < 60, bytes.last == 0x5A
            else { throw invalid }
            var fraction: Int64 = 0
            let rest = bytes[19 ..< bytes.count - 1]
            if !rest.isEmpty {
                guard rest.first == 0x2E, (2 ... 4).contains(rest.count), let digits = number(20, rest.count - 1) else {
                    throw invalid
                }
                fraction = digits * [100, 10, 1][rest.count - 2]
            }
            milliseconds += ((hour * 60 + minute) * 60 + second) * 1000 + fraction
        }
        millisecondsSinceEpoch = milliseconds
    }

    // Howard Hinnant's days-from-civil algorithms (public domain), proleptic Gregorian.
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = Int64.floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = Int64.floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Int64 {
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }
}
