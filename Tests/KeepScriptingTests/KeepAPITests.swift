import Foundation
import KeepTestSupport
import Testing

/// The `keep` table in this process, over the composition root the CLI
/// uses, on every backend.
@Suite struct KeepAPITests {
    @Test(arguments: BackendKind.allCases)
    func sessionsAreCreatedReadAndGuardedByVersion(_ kind: BackendKind) async throws {
        let keep = try ScriptingHarness(kind)
        let results = try await keep.run("""
            local s = keep.sessions.create{title = "Field study", content = '{"a":1}'}
            local again = keep.sessions.get(s.id)
            s:update{title = "Field study 2"}
            local ok, e = pcall(keep.sessions.update, s.id, {title = "stale", expected_version = 1})
            return again.title, again.version, s.version, ok, e.code, e.details.version, #keep.sessions.list{}.items
            """)
        #expect(results == ["Field study", "1", "2", "false", "conflict", "2", "1"])
        try await keep.finish()
    }

    @Test(arguments: BackendKind.allCases)
    func anotherUsersSessionIsNotFound(_ kind: BackendKind) async throws {
        let keep = try ScriptingHarness(kind)
        let results = try await keep.run("""
            local s = keep.sessions.create{title = "mine", content = "{}"}
            return keep.as("bob", function()
              local ok, e = pcall(keep.sessions.get, s.id)
              return ok, e.code, #keep.sessions.list{}.items
            end)
            """)
        #expect(results == ["false", "not_found", "0"])
        try await keep.finish()
    }

    @Test func aScriptThatNeverTouchesTheStoreCreatesNoDatabase() async throws {
        let keep = try ScriptingHarness(.sqlite)
        #expect(try await keep.run("return 1 + 1") == ["2"])
        #expect(!FileManager.default.fileExists(atPath: keep.database))
        #expect(try await keep.run("return #keep.sessions.list{}.items") == ["0"])
        #expect(FileManager.default.fileExists(atPath: keep.database))
        try await keep.finish()
    }

    @Test func afterFinishTheStoreIsClosedAndSaysSo() async throws {
        let keep = try ScriptingHarness(.sqlite)
        try await keep.run("keep.sessions.create{title = 'x', content = '{}'}")
        try await keep.finish()
        let results = try await keep.run("local ok, e = pcall(keep.sessions.list, {}) return ok, e.message")
        #expect(results.first == "false")
        #expect(results.last?.contains("the store was closed") == true, "\(results)")
    }

    /// Issue 14's acceptance: a policy that raises at run time is counted in
    /// keep.policy.status() with its file:line, and warned about; the
    /// built-in rule decides meanwhile.
    @Test func aPolicyThatRaisesAtRunTimeIsCountedWithItsLineAndWarned() async throws {
        let policies = try TemporaryDirectory.make("keep-policies")
        for file in ["retry.lua", "save.lua", "validation.lua"] {
            try FileManager.default.copyItem(at: Checkout.policies.appendingPathComponent(file),
                                             to: policies.appendingPathComponent(file))
        }
        try """
            return {
              should_count = function(log, now)
                error("the visit rule is broken")
              end,
            }
            """.write(to: policies.appendingPathComponent("visits.lua"), atomically: true, encoding: .utf8)
        let keep = try ScriptingHarness(.sqlite, policies: policies.path)
        let results = try await keep.run("""
            local snap = keep.snapshots.create{title = "shared", content = "{}"}
            keep.as("bob", function() keep.snapshots.get(snap.id); keep.snapshots.get(snap.id) end)
            local f = keep.policy.status().failures[1]
            return f.hook, f.count, f.last_message
            """)
        #expect(results.prefix(2) == ["visits.should_count", "1"], "\(results)")
        #expect(results.last?.contains("visits.lua:3:") == true && results.last?.contains("the visit rule is broken") == true,
                "\(results)")
        let warnings = keep.warnings.all
        #expect(warnings.count == 1 && warnings[0].contains("visits.lua:3:"), "one warning, rate-limited: \(warnings)")
        try await keep.finish()
    }
}
