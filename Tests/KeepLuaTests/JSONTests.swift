import Foundation
import KeepCore
import KeepLua
import Testing

// The Lua `json` library: canonical output byte for byte equal to the
// reference front end's `JSON.stringify(sortKeysDeep(v), null, 2)` (checked
// against fixtures produced by scripts/fixtures/canonical.mjs with Node),
// round trips, and error messages.

/// Tests/Fixtures/json: `inputs/<name>.json` and the Node-generated `expected/<name>.json`.
private let jsonFixtures = fixturesDirectory + "/json"

private let jsonFixtureNames: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: jsonFixtures + "/inputs")) ?? []
    return names.filter { $0.hasSuffix(".json") }.sorted()
}()

private func fixtureBytes(_ relativePath: String) throws -> [UInt8] {
    let data = try #require(FileManager.default.contents(atPath: jsonFixtures + "/" + relativePath),
                            "cannot read \(relativePath)")
    return [UInt8](data)
}

/// Runs `code` in a fresh state and returns its results.
private func run(_ code: String, _ arguments: [LuaValue] = []) throws -> [LuaValue] {
    let state = try LuaState()
    return try state.execute(code, chunkName: "=t", arguments: arguments)
}

/// Runs `code`, which must return one string, and returns it as text.
private func text(_ code: String, _ arguments: [LuaValue] = []) throws -> String? {
    try run(code, arguments).first?.text
}

/// Runs `code`, expects it to raise an `invalid` Keep error, and returns the error's message.
private func invalid(_ code: String, _ arguments: [LuaValue] = [],
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let error = try #require(throws: LuaError.self, sourceLocation: sourceLocation) {
        try run(code, arguments)
    }
    #expect(error.keepError?.code == .invalid, "\(error)", sourceLocation: sourceLocation)
    return error.keepError?.message ?? error.message
}

/// Where two byte strings first differ, with some context, for failure messages.
private func firstDifference(_ actual: [UInt8], _ expected: [UInt8]) -> Comment {
    let offset = zip(actual, expected).prefix { $0 == $1 }.count
    func excerpt(_ bytes: [UInt8]) -> String {
        let window = bytes[max(0, offset - 60) ..< min(bytes.count, offset + 60)]
        return String(decoding: window, as: UTF8.self).debugDescription
    }
    return Comment(rawValue: "first difference at byte \(offset) (lengths \(actual.count) and \(expected.count))\n"
        + "actual:   \(excerpt(actual))\nexpected: \(excerpt(expected))")
}

@Suite struct JSONTests {
    // MARK: Canonical output against Node

    @Test func fixturesArePresent() throws {
        #expect(jsonFixtureNames.count >= 15)
        for name in jsonFixtureNames {
            #expect(FileManager.default.fileExists(atPath: jsonFixtures + "/expected/" + name),
                    "no expected output for \(name): run node scripts/fixtures/canonical.mjs Tests/Fixtures/json")
        }
    }

    /// decode → canonical encode gives exactly the bytes JavaScript gives.
    @Test(arguments: jsonFixtureNames)
    func canonicalEncodingMatchesNode(fixture: String) throws {
        let input = try fixtureBytes("inputs/" + fixture)
        let expected = try fixtureBytes("expected/" + fixture)
        let result = try run("return json.encode(json.decode(...), {canonical = true})", [.string(input)])
        guard case .string(let actual)? = result.first else {
            Issue.record("json.encode returned \(result)")
            return
        }
        let matches = actual == expected  // (not inline: #expect would print every byte)
        #expect(matches, firstDifference(actual, expected))
    }

    /// The canonical text is a fixed point, and the compact text loses nothing
    /// (decoding it again gives the same canonical text).
    @Test(arguments: jsonFixtureNames)
    func canonicalIsStableAndCompactRoundTrips(fixture: String) throws {
        let input = try fixtureBytes("inputs/" + fixture)
        let expected = try fixtureBytes("expected/" + fixture)
        let results = try run("""
            local canonical = {canonical = true}
            local value = json.decode(...)
            local again = json.encode(json.decode(json.encode(value, canonical)), canonical)
            local viaCompact = json.encode(json.decode(json.encode(value)), canonical)
            return again, viaCompact
            """, [.string(input)])
        #expect(results.count == 2)
        for (label, result) in zip(["canonical → decode → canonical", "compact → decode → canonical"], results) {
            guard case .string(let actual) = result else {
                Issue.record("\(label): \(result)")
                continue
            }
            let matches = actual == expected
            #expect(matches, "\(label): \(firstDifference(actual, expected))")
        }
    }

    /// The committed expected files are what Node produces today (skipped without node).
    @Test func expectedFilesMatchNode() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map { "\($0)/node" }
        guard let node = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: node)
        process.arguments = ["scripts/fixtures/canonical.mjs", "Tests/Fixtures/json", "--check"]
        process.currentDirectoryURL = URL(fileURLWithPath: packageDirectory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(report)")
    }

    // MARK: Canonical layout of Lua-built values

    @Test func canonicalLayoutOfLuaTables() throws {
        let results = try run("""
            local c = {canonical = true}
            return json.encode({b = 1, a = {true, false}, [10] = "ten", [2] = "two"}, c),
                   json.encode({1, 2, {}}, c),
                   json.encode(json.object({1, 2}), c),
                   json.encode({[1] = "a", [3] = "c"}, c),
                   json.encode({[-1] = "minus", [0] = "zero", x = "x"}, c),
                   json.encode("plain", c),
                   json.encode(1.0, c), json.encode(2^53 + 0.0, c), json.encode(9007199254740993, c),
                   json.encode(math.mininteger, c), json.encode(1e21, c), json.encode(1e-7, c)
            """)
        #expect(results.map(\.text) == [
            "{\n  \"2\": \"two\",\n  \"10\": \"ten\",\n  \"a\": [\n    true,\n    false\n  ],\n  \"b\": 1\n}",
            "[\n  1,\n  2,\n  {}\n]",
            "{\n  \"1\": 1,\n  \"2\": 2\n}",
            "{\n  \"1\": \"a\",\n  \"3\": \"c\"\n}",
            "{\n  \"0\": \"zero\",\n  \"-1\": \"minus\",\n  \"x\": \"x\"\n}",
            "\"plain\"",
            "1", "9007199254740992", "9007199254740992",
            "-9223372036854776000", "1e+21", "1e-7",
        ])
    }

    @Test func compactLayoutKeepsIntegersExactAndFloatsFloats() throws {
        let results = try run("""
            return json.encode({b = json.null, a = {1, 2.5, "x", 1.0}}),
                   json.encode(9007199254740993), json.encode(math.maxinteger), json.encode(math.mininteger),
                   json.encode(100.0), json.encode(-0.0), json.encode(0.0), json.encode(1e21), json.encode(5e-324)
            """)
        #expect(results.map(\.text) == [
            "{\"a\":[1,2.5,\"x\",1.0],\"b\":null}",
            "9007199254740993", "9223372036854775807", "-9223372036854775808",
            "100.0", "-0.0", "0.0", "1e+21", "5e-324",
        ])
    }

    // MARK: Round trips

    @Test func emptyContainersSurvive() throws {
        let results = try run("""
            local function again(s) return json.encode(json.decode(s)) end
            local grown = json.decode("[]"); grown[1] = 5
            local filled = json.decode("{}"); filled.x = 1
            local emptied = json.decode('{"x": 1}'); emptied.x = nil
            return again("[]"), again("{}"), again('{"a":[],"b":{},"c":[[],{},[[]],[{}]]}'),
                   again("[[[]]]"), again('{"a":{"b":{"c":{}}}}'),
                   json.encode(grown), json.encode(filled), json.encode(emptied),
                   json.encode({}), json.encode(json.array()), json.encode(json.array({})),
                   json.encode(json.object()), json.encode(json.array(json.object({})))
            """)
        #expect(results.map(\.text) == [
            "[]", "{}", "{\"a\":[],\"b\":{},\"c\":[[],{},[[]],[{}]]}",
            "[[[]]]", "{\"a\":{\"b\":{\"c\":{}}}}",
            "[5]", "{\"x\":1}", "{}",
            "{}", "[]", "[]",
            "{}", "[]",
        ])
    }

    @Test func integersAndFloatsStayDistinct() throws {
        let results = try run("""
            local function types(t)
              local out = {}
              for i, v in ipairs(t) do out[i] = math.type(v) end
              return table.concat(out, " ")
            end
            local source = "[1, 1.0, -1, 1e2, 100, 2.5, 9223372036854775807, 9223372036854775808, -9223372036854775808, 1E0]"
            local first = json.decode(source)
            local text = json.encode(first)
            local second = json.decode(text)
            return types(first), text, types(second), second[7] == math.maxinteger, second[9] == math.mininteger
            """)
        let kinds = "integer float integer float integer float integer float integer float"
        #expect(results == [
            LuaValue(kinds),
            LuaValue("[1,1.0,-1,100.0,100,2.5,9223372036854775807,9223372036854776000.0,-9223372036854775808,1.0]"),
            LuaValue(kinds), .boolean(true), .boolean(true),
        ])
    }

    @Test func negativeZeroKeepsItsSign() throws {
        let results = try run("""
            local function describe(x) return math.type(x) .. (1 / x == -math.huge and " -0" or " +0") end
            local z = json.decode("-0")
            local compact = json.encode(z)
            return describe(z), compact, describe(json.decode(compact)), json.encode(z, {canonical = true}),
                   describe(json.decode("-0.0")), describe(json.decode("-0e5")), describe(json.decode("0")),
                   describe(json.decode("[-0]")[1])
            """)
        #expect(results.map(\.text) == [
            "float -0", "-0.0", "float -0", "0", "float -0", "float -0", "integer +0", "float -0",
        ])
    }

    @Test func stringsWithNulBytes() throws {
        let results = try run("""
            local s = json.decode('"a\\\\u0000b"')
            local t = json.decode('{"k\\\\u0000ey": "v\\\\u0000"}')
            local key = next(t)
            return #s, s:byte(2), json.encode("x\\0y"), json.decode(json.encode("\\0\\0")) == "\\0\\0",
                   #key, json.encode(t)
            """)
        #expect(results == [
            .integer(3), .integer(0), LuaValue("\"x\\u0000y\""), .boolean(true),
            .integer(4), LuaValue("{\"k\\u0000ey\":\"v\\u0000\"}"),
        ])
        // The same bytes through an argument rather than Lua source.
        let bytes: [UInt8] = [0x61, 0x00, 0x62]
        let again = try run("return json.decode(json.encode(...))", [.string(bytes)])
        #expect(again == [.string(bytes)])
    }

    @Test func nullBothWays() throws {
        let results = try run("""
            local list = json.decode("[null, null, 1]")
            local object = json.decode('{"a": null}')
            return json.decode("null") == json.null, #list, list[1] == json.null, object.a == json.null,
                   json.encode(json.null), json.encode(nil), json.encode({json.null, 1}), json.encode(object),
                   tostring(json.null), type(json.null)
            """)
        #expect(results == [
            .boolean(true), .integer(3), .boolean(true), .boolean(true),
            LuaValue("null"), LuaValue("null"), LuaValue("[null,1]"), LuaValue("{\"a\":null}"),
            LuaValue("null"), LuaValue("userdata"),
        ])
    }

    @Test func escapesAndUnicode() throws {
        let results = try run("""
            return json.encode("\\"\\\\/\\b\\f\\n\\r\\t\\1\\31\\127"),
                   json.encode("é😀\\u{2028}\\u{2029}"),
                   json.decode('"\\\\ud83d\\\\ude00\\\\u00e9\\\\/"')
            """)
        #expect(results.map(\.text) == [
            "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}\"",
            "\"é😀\u{2028}\u{2029}\"",
            "😀é/",
        ])
    }

    @Test func maximumDepthIsTheSameBothWays() throws {
        let results = try run("""
            local deep = string.rep("[", 1000) .. string.rep("]", 1000)
            local built = {}
            for _ = 2, 1000 do built = {built} end
            return json.encode(json.decode(deep)) == deep, #json.encode(built, {canonical = true}) > 0
            """)
        #expect(results == [.boolean(true), .boolean(true)])
        let tooDeep = try invalid("return json.decode(string.rep('[', 1001) .. string.rep(']', 1001))")
        #expect(tooDeep.contains("json.decode: nesting deeper than 1000 levels at line 1 column 1001"))
        let tooDeepTable = try invalid("local t = {} for _ = 2, 1001 do t = {t} end return json.encode(t)")
        #expect(tooDeepTable.contains("json.encode: nesting deeper than 1000 levels"))
    }

    /// Whatever decodes must encode again, however long an array or object is.
    @Test func largeTablesRoundTrip() throws {
        let results = try run("""
            local n = 600000
            local list = json.decode("[" .. string.rep("1,", n - 1) .. "1]")
            local map = {}
            for i = 1, n do map["k" .. i] = i end
            local ok1, e1 = pcall(json.encode, list)
            local ok2, e2 = pcall(json.encode, map)
            return tostring(#list), ok1 and tostring(#e1) or e1.message, ok2 and tostring(#e2) or e2.message
            """)
        #expect(results.map(\.text) == ["600000", "1200001", "9977791"])
    }

    /// The integer key 1 and the string key "1" would both be written as the
    /// member "1": a duplicate key that no JavaScript object has, which decodes
    /// to one of the two values (and which one depends on sort order).
    @Test func integerAndStringKeysThatCollideAreRefused() throws {
        let error = try invalid("return json.encode({[1] = 'int', ['1'] = 'str'}, {canonical = true})")
        #expect(error.hasPrefix("json.encode:"))
    }

    /// Encoding work counts against the call's budget, like pattern matching:
    /// a few shared subtables make an exponentially large document.
    @Test func encodingHonoursTheTimeBudget() throws {
        let state = try LuaState()
        let budget = LuaBudget(instructions: 1_000_000, memory: 32 << 20, time: .milliseconds(100))
        let started = ContinuousClock.now
        let error = try #require(throws: LuaError.self) {
            try state.execute("local t = {} for _ = 1, 20 do t = {t, t} end return #json.encode(t)",
                              chunkName: "=t", budget: budget)
        }
        #expect(error.keepError?.code == .limit, "\(error)")
        #expect(ContinuousClock.now - started < .seconds(1))
    }

    // MARK: Decoding errors

    @Test(arguments: [
        ("[1,2,]", "unexpected character ']', expected a value at line 1 column 6"),
        ("{\"a\":1,}", "expected a string key at line 1 column 8"),
        ("[01]", "leading zeros are not allowed in numbers at line 1 column 3"),
        ("-", "expected a digit at line 1 column 2"),
        ("1.", "expected a digit after '.' at line 1 column 3"),
        ("1e", "expected a digit in the exponent at line 1 column 3"),
        ("\"\\x\"", "invalid escape '\\x' at line 1 column 3"),
        ("\"\\u12\"", "expected four hex digits after \\u"),
        ("\"\\ud800\"", "unpaired surrogate \\ud800 at line 1 column 8"),
        ("\"\\ud800\\u0041\"", "unpaired surrogate \\ud800"),
        ("\"\\udc00\"", "unpaired surrogate \\udc00"),
        ("\"abc", "unterminated string at line 1 column 5"),
        ("\"ab\\n", "unterminated string"),
        ("\"a\nb\"", "control character in a string (escape it) at line 1 column 3"),
        ("{\n  \"a\": [1,\n    2,]\n}", "unexpected character ']', expected a value at line 3 column 7"),
        ("[1] x", "unexpected data after the JSON value at line 1 column 5"),
        ("", "unexpected end of input, expected a value at line 1 column 1"),
        ("[1", "unexpected end of input in an array"),
        ("{\"a\"", "expected ':' after a key"),
        ("{'a': 1}", "expected a string key at line 1 column 2"),
        ("NaN", "unexpected character 'N', expected a value"),
        ("tru", "invalid literal, expected 'true'"),
    ])
    func invalidJSONIsReportedWithPosition(source: String, message: String) throws {
        let error = try invalid("return json.decode(...)", [LuaValue(source)])
        #expect(error.hasPrefix("json.decode: "))
        #expect(error.contains(message), "\(error)")
    }

    @Test(arguments: [
        ([0x22, 0x61, 0xFF, 0x62, 0x22], "column 3"),          // "a\xFFb"
        ([0x22, 0xC0, 0x80, 0x22], "column 2"),                // overlong NUL
        ([0x22, 0xED, 0xA0, 0x80, 0x22], "column 2"),          // UTF-8-encoded surrogate
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "column 2"),    // above U+10FFFF
        ([0x22, 0xE2, 0x82, 0x22], "column 2"),                // truncated sequence
        ([0x22, 0x5C, 0x6E, 0x80, 0x22], "column 4"),          // stray continuation byte after an escape
    ] as [([UInt8], String)])
    func invalidUTF8IsRefused(source: [UInt8], position: String) throws {
        let error = try invalid("return json.decode(...)", [.string(source)])
        #expect(error.contains("invalid UTF-8 in a string at line 1 \(position)"), "\(error)")
    }

    @Test func decodeErrorsCanBeCaughtInLua() throws {
        let results = try run("""
            local ok, e = pcall(json.decode, "[1,]")
            return ok, e.code, e.message, json.encode(json.decode("[1]"))
            """)
        #expect(results == [
            .boolean(false), LuaValue("invalid"),
            LuaValue("json.decode: unexpected character ']', expected a value at line 1 column 4 (byte 4)"),
            LuaValue("[1]"),
        ])
        #expect(try invalid("return json.decode(42)").contains("string expected, got number"))
        #expect(try invalid("return json.decode()").contains("string expected, got no value"))
    }

    // MARK: Encoding errors

    @Test(arguments: [
        ("return json.encode(0/0)", "JSON has no NaN or infinity"),
        ("return json.encode({x = math.huge})", "cannot encode inf (JSON has no NaN or infinity)"),
        ("return json.encode({-math.huge})", "cannot encode -inf (JSON has no NaN or infinity)"),
        ("return json.encode(json.decode('1e400'))", "cannot encode inf"),
        ("return json.encode(print)", "cannot encode a function value"),
        ("return json.encode({f = function() end})", "cannot encode a function value"),
        ("return json.encode(coroutine.create(print))", "cannot encode a thread value"),
        ("return json.encode(io.stdout)", "cannot encode a userdata value (only json.null)"),
        ("local t = {} t.self = t return json.encode(t)", "nesting deeper than 1000 levels (is there a cycle?)"),
        ("local t = {} t[1] = t return json.encode(t, {canonical = true})", "(is there a cycle?)"),
        ("return json.encode(json.array({1, 2, x = 3}))", "a table marked as a JSON array must have keys 1…n only"),
        ("return json.encode(json.array({1, nil, 3}))", "a table marked as a JSON array must have keys 1…n only"),
        ("local t = json.decode('[1]') t.x = 2 return json.encode(t)", "must have keys 1…n only"),
        ("return json.encode('a\\255b')", "cannot encode a string that is not valid UTF-8 (byte 2)"),
        ("return json.encode('\\237\\160\\128')", "cannot encode a string that is not valid UTF-8 (byte 1)"),
        ("return json.encode({['k\\192\\128'] = 1})", "cannot encode a string that is not valid UTF-8 (byte 2)"),
        ("return json.encode({[true] = 1})", "cannot encode a table key of type boolean (object keys are strings or integers)"),
        ("return json.encode({[1.5] = 1})", "cannot encode the table key 1.5 (object keys are strings or integers)"),
        ("return json.encode({}, {pretty = true})", "json.encode: unknown option 'pretty'; allowed: canonical"),
        ("return json.encode({}, {canonical = true, indent = 2})", "unknown option 'indent'; allowed: canonical"),
        ("return json.encode({}, {true})", "unknown option of type number; allowed: canonical"),
        ("return json.encode({}, 'canonical')", "options table expected, got string"),
        ("return json.encode()", "value expected"),
    ])
    func unencodableValuesAreRefused(code: String, message: String) throws {
        let error = try invalid(code)
        #expect(error.contains(message), "\(error)")
    }

    @Test func encodeErrorsLeaveTheStateUsable() throws {
        let results = try run("""
            local t = {} t.self = t
            local ok, e = pcall(json.encode, {1, {2, t}})
            return ok, e.code, json.encode({1, {2, 3}}, {canonical = true})
            """)
        #expect(results == [.boolean(false), LuaValue("invalid"), LuaValue("[\n  1,\n  [\n    2,\n    3\n  ]\n]")])
    }
}
