import KeepJSON
import KeepLua
import Testing

/// `json.decode` and the merge's `JSONTree` read JSON by one rule: every text
/// is accepted by both or refused by both (with the same message), and what
/// they read is the same value — `json.encode(json.decode(t), {canonical = true})`
/// equals the tree's canonical text.
@Suite struct JSONAgreementTests {
    static let inputs: [[UInt8]] = [
        // Repeated keys: the last wins, nested too, in any order.
        #"{"a":1,"a":2}"#, #"{"a":1,"b":2,"a":3}"#, #"{"a":{"x":1},"a":{"y":2}}"#, #"{"a":1,"\u0061":null}"#,
        #"{"a":[1],"a":[]}"#, #"{"a":{},"a":{}}"#, #"{"k":{"k":1,"k":{"k":2}},"k":{"k":3,"k":4}}"#,
        #"[{"id":1,"id":2},{"b":0,"a":1,"b":2}]"#,
        // Numbers.
        "-0", "[-0,0,-0.0,0.0]", "1e400", "[-1e400]", "1E+2", "12345678901234567890", "-9223372036854775808",
        "9223372036854775807", "9223372036854775808", "9007199254740993", "1.10", "2e-7", "1e21", "0.1",
        "01", "1.", ".5", "+1", "-", "1e", "1.e5", "0x1",
        // Strings.
        #""\u0041\/\u001F\ud83d\ude00""#, #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, "\"a\u{1}\"", #""\x""#,
        #""\u12G4""#, "\"unterminated", "\"é 😀 \u{2028}\"",
        // Structure, white space, literals, trailing data, BOM.
        " \n\t{ \"a\" : [ true , false , null , { } , [ ] ] }\r\n", "[1,]", #"{"a":1,}"#, "[1 2]", #"{"a" 1}"#,
        "{'a':1}", "[1] x", "", " ", "tru", "nul", "NaN", "\u{FEFF}{}", "{}{}", "[[[]]]",
        String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000),
        String(repeating: "[", count: 1001) + String(repeating: "]", count: 1001),
    ].map { Array($0.utf8) } + [
        // Invalid UTF-8: a stray byte, an overlong NUL, an encoded surrogate, beyond U+10FFFF, a cut sequence.
        [0x22, 0x61, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22], [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D],
    ]

    /// What reading `text` gives: the canonical text, or the error's message.
    private enum Reading: Equatable {
        case canonical(String)
        case refused(String)
        /// Read, but with a number canonical output cannot write (±infinity).
        case unwritable(String)
    }

    private func viaLua(_ text: [UInt8], in state: LuaState) -> Reading {
        do {
            _ = try state.execute("return json.decode(...)", chunkName: "=t", arguments: [.string(text)])
        } catch {
            return .refused(error.keepError?.message ?? error.message)
        }
        do {
            let result = try state.execute("return json.encode(json.decode(...), {canonical = true})", chunkName: "=t",
                                           arguments: [.string(text)])
            return .canonical(result.first?.text ?? "")
        } catch {
            return .unwritable(error.keepError?.message ?? error.message)
        }
    }

    private func viaTree(_ text: [UInt8]) -> Reading {
        let parsed = text.withUnsafeBufferPointer { bytes in Result { () throws(JSONError) in try JSONTree.parse(bytes) } }
        switch parsed {
        case .failure(let error):
            return .refused("json.decode: \(error)")
        case .success(let tree):
            do throws(JSONError) {
                return .canonical(try tree.canonicalText())
            } catch {
                return .unwritable("json.encode: \(error)")
            }
        }
    }

    @Test("json.decode and the merge's parser accept, refuse and read alike")
    func sameRule() throws {
        let state = try LuaState()
        for text in Self.inputs {
            let lua = viaLua(text, in: state)
            let tree = viaTree(text)
            #expect(lua == tree, "\(String(decoding: text.prefix(80), as: UTF8.self).debugDescription)")
        }
    }
}
