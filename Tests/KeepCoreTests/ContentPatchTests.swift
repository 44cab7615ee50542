import KeepCore
import Testing

@Suite struct ContentPatchTests {
    @Test("a patch gives back the old text exactly, whatever the two texts share")
    func restoresExactly() {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["a", "b", "{\n  ", "\"module\": \"MapView\"", "é", "井", "😀", ",\n", "GeoMap", "0123456789abcdef"]
        func text(_ count: Int) -> String {
            (0 ..< count).map { _ in pieces.randomElement(using: &generator)! }.joined()
        }
        var cases: [(String, String)] = [("", ""), ("", "abc"), ("abc", ""), ("same", "same"), ("aaaa", "aa"),
                                         ("aa", "aaaa"), ("😀", "😁"), ("x😀y", "x😁y"), ("ab", "ba")]
        for _ in 0 ..< 300 {
            let shared = text(Int.random(in: 0 ... 30, using: &generator))
            let tail = text(Int.random(in: 0 ... 30, using: &generator))
            cases.append((shared + text(Int.random(in: 0 ... 5, using: &generator)) + tail,
                          shared + text(Int.random(in: 0 ... 5, using: &generator)) + tail))
        }
        for (old, new) in cases {
            let patch = ContentPatch(restoring: old, from: new)
            #expect(patch.apply(to: new) == old, "\(old.debugDescription) from \(new.debugDescription)")
            #expect(patch.prefixLength + patch.middle.count + patch.suffixLength == old.utf8.count)
        }
        let rename = ContentPatch(restoring: "{\"kind\": \"MapView\", \"zoom\": 2}", from: "{\"kind\": \"GeoMap\", \"zoom\": 2}")
        #expect(rename.middle == Array("MapView".utf8), "only the differing bytes are kept")
        #expect(ContentPatch(restoring: "abcX", from: "abcY").apply(to: "") == nil, "too short to be the migrated text")
    }
}
