import Foundation
import KeepJSON
import KeepTestSupport
import Testing

/// The tree parser and writer on their own; `JSONAgreementTests` (KeepLuaTests)
/// holds them against `json.decode`.
@Suite struct JSONParserTests {
    private func parseError(_ text: String) -> JSONError? {
        do throws(JSONError) {
            _ = try JSONTree.parse(text)
            return nil
        } catch {
            return error
        }
    }

    private func compact(_ text: String) throws -> String {
        try JSONTree.parse(text).serialized()
    }

    @Test("a repeated key: the last member wins, wherever it stands")
    func duplicateKeys() throws {
        #expect(try compact(#"{"a":1,"b":2,"a":3}"#) == #"{"a":3,"b":2}"#)
        #expect(try compact(#"{"a":1,"\u0061":2}"#) == #"{"a":2}"#)
        #expect(try compact(#"{"a":{"x":1},"a":{"y":2}}"#) == #"{"a":{"y":2}}"#)
        #expect(try compact(#"{"a":1,"a":null,"a":[3]}"#) == #"{"a":[3]}"#)
        #expect(try compact(#"{"n":{"k":1,"k":2},"m":0}"#) == #"{"m":0,"n":{"k":2}}"#)
        // Past the small-object scan: a table of members.
        let many = (0 ..< 40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        let tree = try JSONTree.parse("{\(many),\"k7\":\"again\",\"k7\":\"last\"}")
        #expect(tree.nodes[0].count == 40)
        #expect(try tree.serialized().contains(#""k7":"last""#))
        #expect(try !tree.serialized().contains(#""k7":7"#))
        #expect(try JSONTree.parse(#"{"a":1,"a":2}"#) == JSONTree.parse(#"{"a":2}"#))
        #expect(try JSONTree.parse(#"{"a":1,"a":2}"#) != JSONTree.parse(#"{"a":1}"#))
    }

    @Test("errors name the problem, the line, the column and the byte")
    func errors() {
        #expect(parseError("[1,\n 2,]")?.description == "unexpected character ']', expected a value at line 2 column 4 (byte 8)")
        #expect(parseError(#"{"a" 1}"#)?.position?.offset == 5)
        #expect(parseError("\u{FEFF}{}")?.problem == "unexpected character '\\xef', expected a value")
        #expect(parseError("[1] x")?.problem == "unexpected data after the JSON value")
        #expect(parseError(#"["\ud800"]"#)?.problem == #"unpaired surrogate \ud800"#)
        #expect(parseError(#"["\udc00"]"#)?.problem == #"unpaired surrogate \udc00"#)
        #expect(parseError("[\"a\u{1}\"]")?.problem == "control character in a string (escape it)")
        #expect(parseError("")?.problem == "unexpected end of input, expected a value")
        for bad in ["01", "1.", ".5", "-", "1e", "+1", "0x1", "NaN", "1.e5", "[1,]", "{\"a\":1,}", "tru"] {
            #expect(parseError(bad) != nil, "\(bad)")
        }
    }

    @Test("invalid UTF-8 is refused, also when not given as a Swift string")
    func invalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0x61, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] {
            let error = bytes.withUnsafeBufferPointer { text -> JSONError? in
                do throws(JSONError) { _ = try JSONTree.parse(text); return nil } catch { return error }
            }
            #expect(error?.problem == "invalid UTF-8 in a string", "\(bytes)")
        }
    }

    @Test("nesting up to the shared limit parses and merges' walks survive it; deeper is refused")
    func depth() throws {
        let limit = JSONLimits.maximumDepth
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(try compact(deepest) == deepest)
        let objects = String(repeating: #"{"a":"#, count: limit - 1) + "[]" + String(repeating: "}", count: limit - 1)
        #expect(try JSONTree.parse(objects) == JSONTree.parse(objects.replacingOccurrences(of: ":", with: " : ")))
        let tooDeep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        #expect(parseError(tooDeep)?.description == "nesting deeper than \(limit) levels at line 1 column \(limit + 1) (byte \(limit + 1))")
    }

    @Test("canonical text: JavaScript numbers, sorted keys, the indented layout")
    func canonicalText() throws {
        #expect(try JSONTree.parse(#"{"b":[1.0,-0,1e21,1E-7,12345678901234567890],"a":"\/"}"#).canonicalText() == """
            {
              "a": "/",
              "b": [
                1,
                0,
                1e+21,
                1e-7,
                12345678901234567000
              ]
            }
            """)
        #expect(throws: JSONError(.invalid, "cannot encode inf (JSON has no NaN or infinity)")) {
            try JSONTree.parse("[1e400]").canonicalText()
        }
        #expect(try JSONTree.parse("[1e400]").serialized() == "[1e400]")
    }

    @Test("number literals round-trip exactly")
    func numbers() throws {
        let text = "[12345678901234567890,1.10,-0,-0.0,1E+400,2e-7,0,-12.5e10,100000000000000000000000000001]"
        #expect(try compact(text) == text)
    }

    @Test("strings escape minimally and keep everything else raw")
    func strings() throws {
        let input = #"["\u2028 \ud83d\ude00 😀 é / \/ \" \\ \b\f\n\r\t \u0001\u001F \u0000 \u00e9"]"#
        #expect(try compact(input) == "[\"\u{2028} 😀 😀 é / / \\\" \\\\ \\b\\f\\n\\r\\t \\u0001\\u001f \\u0000 é\"]")
        #expect(try compact(#""\ud83d\ude00\uD83D\uDE00""#) == "\"😀😀\"")
        #expect(try compact(#"{"k\n":"\u007f"}"#) == "{\"k\\n\":\"\u{7F}\"}")
        // Escapes the serializer would not write are rewritten, the ones it writes kept.
        #expect(try compact(#"["\u0041\u00e9\/\u001F", "\u001f\n"]"#) == #"["Aé/\u001f","\u001f\n"]"#)
    }

    @Test("strings of plain runs, escapes and non-ASCII characters in any order decode to their text")
    func stringsDecodeToTheirText() throws {
        let seed = ProcessInfo.processInfo.environment["KEEP_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1 ... .max)
        var random = SeededGenerator(seed: seed)
        let escapes: [(String, String)] = [(#"\""#, "\""), (#"\\"#, "\\"), (#"\/"#, "/"), (#"\b"#, "\u{8}"), (#"\f"#, "\u{C}"),
                                           (#"\n"#, "\n"), (#"\r"#, "\r"), (#"\t"#, "\t"), (#"\u0001"#, "\u{1}"),
                                           (#"\u00e9"#, "é"), (#"\u4E2D"#, "中"), (#"\ud83d\ude00"#, "😀")]
        let raw = ["é", "😀", "中", "a", "~"]
        for round in 0 ..< 2000 {
            var literal = "", text = ""
            for _ in 0 ..< Int.random(in: 0 ... 12, using: &random) {
                switch Int.random(in: 0 ... 2, using: &random) {
                case 0:
                    let run = String(repeating: "x", count: Int.random(in: 0 ... 20, using: &random))
                    literal += run
                    text += run
                case 1:
                    let escape = escapes[Int.random(in: 0 ..< escapes.count, using: &random)]
                    literal += escape.0
                    text += escape.1
                default:
                    let character = raw[Int.random(in: 0 ..< raw.count, using: &random)]
                    literal += character
                    text += character
                }
            }
            let tree = try JSONTree.parse("[\"\(literal)\"]")
            let decoded = String(decoding: tree.content(tree.firstChild(0)), as: UTF8.self)
            #expect(decoded == text, "seed \(seed) (KEEP_TEST_SEED replays), round \(round): \(literal)")
            if decoded != text { return }
        }
    }

    @Test("keys come in JSON.stringify(sortKeysDeep) order")
    func keyOrder() throws {
        #expect(try compact(#"{"b":1,"a":2,"10":3,"2":4}"#) == #"{"2":4,"10":3,"a":2,"b":1}"#)
        #expect(try compact(#"{"01":0,"4294967295":1,"4294967294":2,"-1":3,"0":4,"B":5,"_":6}"#) ==
            #"{"0":4,"4294967294":2,"-1":3,"01":0,"4294967295":1,"B":5,"_":6}"#)
        // UTF-16 order: a character above U+FFFF (a surrogate pair) before U+E000...U+FFFF, after the rest.
        #expect(try compact("{\"\u{FF5E}\":1,\"😀\":2,\"é\":3,\"z\":4,\"\u{D7FF}\":5}") ==
            "{\"z\":4,\"é\":3,\"\u{D7FF}\":5,\"😀\":2,\"\u{FF5E}\":1}")
        #expect(try compact(#"{"n":{"y":[{"b":1,"a":0}],"x":1}}"#) == #"{"n":{"x":1,"y":[{"a":0,"b":1}]}}"#)
    }

    @Test("whitespace, literals and nesting parse; the output is compact")
    func compact() throws {
        #expect(try compact(" \n\t{ \"a\" : [ true , false , null , { } , [ ] ] }\r\n") == #"{"a":[true,false,null,{},[]]}"#)
        #expect(try compact("\"top\"") == "\"top\"")
    }

    @Test("equality ignores member order and compares text exactly")
    func equality() throws {
        #expect(try JSONTree.parse(#"{"a":1,"b":[1,{"c":2,"d":3}]}"#) == JSONTree.parse(#"{"b":[1,{"d":3,"c":2}],"a":1}"#))
        #expect(try JSONTree.parse("[1,2]") != JSONTree.parse("[2,1]"))
        #expect(try JSONTree.parse("1.0") != JSONTree.parse("1"))
        #expect(try JSONTree.parse("\"\u{E9}\"") != JSONTree.parse("\"e\u{301}\""))
        #expect(try JSONTree.parse(#"{"a":1}"#) != JSONTree.parse(#"{"a":1,"b":2}"#))
        #expect(try JSONTree.parse(#"{"a":1,"b":2}"#) != JSONTree.parse(#"{"b":2,"c":1}"#))
    }

    @Test("the canonical check agrees with the tree's canonical text")
    func canonicalCheck() throws {
        for text in [#"{"b":1,"a":[1.5,"x",null,{}]}"#, "[1.0]", "[-0]", "[12345678901234567890]", #"{"a":1,"a":2}"#, "\"\\/\""] {
            let canonical = try JSONTree.parse(text).canonicalText()
            #expect(CanonicalJSON.isCanonical(canonical), "\(canonical)")
            #expect(!CanonicalJSON.isCanonical(text), "\(text)")
        }
        #expect(!CanonicalJSON.isCanonical("{\n  \"a\": 1,\n  \"a\": 2\n}"))
    }
}

@Suite struct JSONLayoutTests {
    @Test func indentedMatchesTheCanonicalLayout() {
        let compact = #"{"a":[],"b":{},"c":[1,{"d":"x,y:{z}","e":"q\"}"}],"f":null}"#
        #expect(JSONLayout.indented(compact) == """
            {
              "a": [],
              "b": {},
              "c": [
                1,
                {
                  "d": "x,y:{z}",
                  "e": "q\\"}"
                }
              ],
              "f": null
            }
            """)
        #expect(JSONLayout.indented("[]") == "[]" && JSONLayout.indented("42") == "42")
        #expect(JSONLayout.isIndented("{\n  \"a\": 1\n}") && !JSONLayout.isIndented(#"{"a":1}"#) && !JSONLayout.isIndented("{}"))
    }
}
