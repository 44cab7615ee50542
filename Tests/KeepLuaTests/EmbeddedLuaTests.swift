import Foundation
import Testing
@testable import KeepLua

/// The Lua that KeepLua runs in every state lives in `Sources/KeepLua/Lua/*.lua`
/// (where luacheck lints it) and is compiled into the binary as a string, so
/// a copied `keep` needs no resource bundle. The two must not drift apart.
@Suite struct EmbeddedLuaTests {
    @Test(arguments: [
        ("sandbox_prelude.lua", SandboxPrelude.source),
        ("trusted_prelude.lua", TrustedPrelude.source),
    ])
    func embeddedCopyEqualsTheLintedFile(file: String, embedded: String) throws {
        let path = packageDirectory + "/Sources/KeepLua/Lua/" + file
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(Array(onDisk) == Array((embedded + "\n").utf8), "\(path) and its embedded copy differ; copy the file into the Swift string")
    }
}
