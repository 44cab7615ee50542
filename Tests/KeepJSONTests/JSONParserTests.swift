import Foundation
import KeepJSON
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

    @Test("keys in array-index order, then UTF-16 order")
    func keyOrder() throws {
        #expect(try compact(#"{"01":0,"4294967295":1,"4294967294":2,"-1":3,"0":4,"B":5,"_":6}"#) ==
            #"{"0":4,"4294967294":2,"-1":3,"01":0,"4294967295":1,"B":5,"_":6}"#)
        #expect(try compact("{\"\u{FF5E}\":1,\"😀\":2,\"é\":3,\"z\":4,\"\u{D7FF}\":5}") ==
            "{\"z\":4,\"é\":3,\"\u{D7FF}\":5,\"😀\":2,\"\u{FF5E}\":1}")
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
