import KeepCore
import Testing

/// The user id rule (SPEC §1 "User ids") every entry point shares.
struct UserIDTests {
    @Test func validIdsAreNormalizedToNFC() throws {
        #expect(try UserID(checking: "ana") == "ana")
        #expect(try UserID(checking: "Zoe\u{308}") == "Zo\u{EB}")
        #expect(try UserID(checking: Array("Zoe\u{308}".utf8)) == "Zo\u{EB}")
        #expect(try UserID(checking: "ana maria") == "ana maria", "white space inside is fine")
        #expect(try UserID(checking: String(repeating: "é", count: 64)).utf8.count == 128)
        // 128 bytes only after normalization: 64 decomposed é are 192 bytes before it.
        #expect(try UserID(checking: String(repeating: "e\u{301}", count: 64)).utf8.count == 128)
    }

    @Test func everythingElseIsInvalidAndSaysWhatIsAllowed() {
        let bad: [[UInt8]] = [
            [], Array(" ana".utf8), Array("ana ".utf8), Array("\u{A0}ana".utf8), Array("a\nb".utf8), Array("a\u{7F}".utf8),
            Array("a\u{85}b".utf8), Array(repeating: UInt8(ascii: "a"), count: 129), [0x61, 0xFF], [0xC3],
        ]
        for bytes in bad {
            #expect {
                try UserID(checking: bytes)
            } throws: { error in
                guard let error = error as? KeepError else { return false }
                return error.code == .invalid && error.message.hasSuffix(UserID.userIDRule) && !error.message.contains("\n")
            }
        }
    }
}
