import Foundation
import Testing
@testable import KeepPolicy

/// `keep policy test`'s library lives in `Sources/KeepPolicy/Lua/` (where
/// luacheck lints it) and is compiled into the binary as a string; the two
/// must not drift apart (see docs/lua-bridge.md).
@Suite struct EmbeddedLuaTests {
    @Test func policyTestLibraryEqualsTheLintedFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.path + "/Sources/KeepPolicy/Lua/policy_test_library.lua"
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(Array(onDisk) == Array((PolicyTestLibrary.source + "\n").utf8),
                "\(path) and its embedded copy differ; copy the file into the Swift string")
    }
}
