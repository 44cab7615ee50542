import Foundation
import KeepJSON
import KeepLua
import Testing

/// `CanonicalJSON.isCanonical` against the real thing: a text it calls
/// canonical must be exactly `json.encode(json.decode(text), {canonical = true})`
/// (soundness: a wrong "yes" would let a migration write an unchanged
/// document), and canonical texts should be recognised (usefulness).
@Suite struct CanonicalJSONCheckTests {
    /// The canonical re-encoding of `text`, by decoding and encoding it.
    static func reencoded(_ text: String, in state: LuaState) throws -> String? {
        try state.execute("return json.encode(json.decode(...), {canonical = true})", chunkName: "=t",
                          arguments: [LuaValue(text)]).first?.text
    }

    /// Texts to probe with: JSON fixtures, their canonical forms, and variants
    /// that differ from canonical form in one way each.
    static func probes(in state: LuaState) throws -> [String] {
        let directory = fixturesDirectory + "/json/inputs"
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }
        var texts = try names.map { try String(contentsOfFile: directory + "/" + $0, encoding: .utf8) }
        texts += [
            "{}", "[]", "0", "-0", "1", "-1", "1.5", "1.0", "1e2", "1E2", "1e+21", "1e21", "0.000001", "1e-7",
            "9007199254740992", "9007199254740993", "-9007199254740992", "123456789012345678901234567890",
            "\"a\"", "\"\\/\"", "\"\\u0041\"", "\"\\u001f\"", "\"\\u001F\"", "\"\\u0008\"", "\"\\b\"", "\"\\ud83d\\ude00\"",
            "\"😀\"", "true", "false", "null", " 1", "1 ", "{\"a\":1}", "{\n  \"a\": 1\n}", "{\n  \"a\": 1\n}\n",
            "{\n  \"b\": 1,\n  \"a\": 2\n}", "{\n  \"a\": 1,\n  \"a\": 2\n}", "{\n \"a\": 1\n}", "{\n\t\"a\": 1\n}",
            "{\n  \"a\" : 1\n}", "{\n  \"a\":1\n}", "[\n  1,\n  2\n]", "[\n  1, 2\n]", "[ ]", "{ }",
            "{\n  \"10\": 1,\n  \"9\": 2\n}", "{\n  \"9\": 1,\n  \"10\": 2\n}", "{\n  \"1\": 1,\n  \"a\": 2\n}",
            "{\n  \"a\": 1,\n  \"1\": 2\n}", "{\n  \"01\": 1,\n  \"1\": 2\n}", "{\n  \"1\": 1,\n  \"01\": 2\n}",
            "{\n  \"\": 1,\n  \"a\": 2\n}", "{\n  \"\u{E000}\": 1,\n  \"😀\": 2\n}", "{\n  \"😀\": 1,\n  \"\u{E000}\": 2\n}",
            "{\n  \"a\\\"b\": 1\n}", "[\n  [],\n  {},\n  [\n    null\n  ]\n]", "[\n  -0.0\n]", "[\n  0.1\n]",
            "[\n  100000000000000000000\n]", "[\n  1.7976931348623157e+308\n]", "[\n  5e-324\n]",
        ]
        // The canonical form of each, and that form with its first indentation changed.
        var derived: [String] = []
        for text in texts {
            guard let canonical = try? reencoded(text, in: state) else { continue }
            derived.append(canonical)
            derived.append(canonical.replacingOccurrences(of: "\n  ", with: "\n   ", options: [], range: nil))
            derived.append(canonical + "\n")
            if let compact = try state.execute("return json.encode(json.decode(...))", chunkName: "=t",
                                               arguments: [LuaValue(text)]).first?.text {
                derived.append(compact)
            }
        }
        return texts + derived
    }

    @Test("a text called canonical is its own canonical re-encoding; canonical texts are recognised")
    func soundAndUseful() throws {
        let state = try LuaState()
        var recognised = 0
        var canonicalTexts = 0
        var missed: [String] = []
        for text in try Self.probes(in: state) {
            guard let again = try? Self.reencoded(text, in: state) else {
                continue  // not JSON: the checker's precondition does not hold
            }
            if CanonicalJSON.isCanonical(text) {
                #expect(again == text, "called canonical but re-encodes differently: \(text.debugDescription)")
            }
            if again == text {
                canonicalTexts += 1
                if CanonicalJSON.isCanonical(text) { recognised += 1 } else { missed.append(String(text.prefix(200))) }
            }
        }
        #expect(canonicalTexts > 40)
        #expect(recognised > 150, "\(recognised) of \(canonicalTexts) canonical texts recognised")
        // Only texts with escapes (in keys) may go unrecognised.
        #expect(missed.allSatisfy { $0.contains("\\") }, "missed \(missed)")
    }

    @Test("random documents: canonical forms are recognised, compact forms are not")
    func randomDocuments() throws {
        let state = try LuaState()
        let texts = try state.execute("""
            math.randomseed(11)
            local words = { "a", "b", "Z", "10", "9", "é", "井", "😀", "x\\"y", "tab\\t", "" }
            local function value(depth)
              local r = math.random(depth > 3 and 6 or 8)
              if r == 1 then return math.random(-1000, 1000)
              elseif r == 2 then return math.random() * 10 ^ math.random(-8, 25)
              elseif r == 3 then return words[math.random(#words)]
              elseif r == 4 then return json.null
              elseif r == 5 then return math.random() < 0.5
              elseif r == 6 then return math.random(1, 2) == 1 and json.array() or json.object()
              elseif r == 7 then
                local t = json.array()
                for i = 1, math.random(0, 4) do t[i] = value(depth + 1) end
                return t
              else
                local t = json.object()
                for _ = 1, math.random(0, 4) do t[words[math.random(#words)] .. math.random(0, 3)] = value(depth + 1) end
                return t
              end
            end
            local out = {}
            for i = 1, 300 do
              local v = value(0)
              out[#out + 1] = json.encode(v, { canonical = true })
              out[#out + 1] = json.encode(v)
            end
            return table.concat(out, "\\0")
            """, chunkName: "=t").first?.text ?? ""
        for (index, text) in texts.split(separator: "\0", omittingEmptySubsequences: false).map(String.init).enumerated() {
            let again = try Self.reencoded(text, in: state)
            let canonical = again == text
            if CanonicalJSON.isCanonical(text) { #expect(canonical, "\(text.debugDescription)") }
            if index % 2 == 0 {
                // Escaped strings (in keys) are the checker's only blind spot here.
                #expect(canonical && (CanonicalJSON.isCanonical(text) || text.contains("\\")), "\(text.debugDescription)")
            }
        }
    }
}
