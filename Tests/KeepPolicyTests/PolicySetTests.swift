import Foundation
import KeepCore
import KeepPolicy
import KeepTestSupport
import KeepStore
import Testing

/// A copy of the shipped policies in a temporary folder, to edit per test.
func policyFolder(_ edits: [String: String] = [:], removing: [String] = []) throws -> String {
    let shipped = Checkout.policies
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("keep-policies-\(UUID().uuidString)/policies")
    try FileManager.default.createDirectory(at: folder.deletingLastPathComponent(), withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: shipped, to: folder)
    for (file, text) in edits { try text.write(to: folder.appendingPathComponent(file), atomically: true, encoding: .utf8) }
    for file in removing { try FileManager.default.removeItem(at: folder.appendingPathComponent(file)) }
    return folder.path
}

func now() -> Timestamp { Timestamp(millisecondsSinceEpoch: 1_795_761_694_123) }

func load(_ folder: String) throws -> PolicySet { try PolicySet(directory: folder, clock: now) }

func candidate(title: String = "t", description: String? = nil, content: String = "{}") -> DocumentCandidate {
    DocumentCandidate(kind: .session, operation: .create, owner: "ana", title: title, description: description, content: content)
}

@Suite struct PolicySetTests {
    @Test func shippedPoliciesReproduceTheReferenceLimits() throws {
        let policies = try load(try policyFolder())
        #expect(policies.files == ["validation.lua", "retry.lua", "save.lua", "visits.lua"])
        #expect(policies.save == SaveSettings(autosaveDebounceMilliseconds: 200, pollIntervalMilliseconds: 10_000))
        try policies.validate(candidate(title: String(repeating: "é", count: 50), content: String(repeating: "x", count: 1_572_864)))
        let empty = #expect(throws: KeepError.self) { try policies.validate(candidate(title: "  ")) }
        #expect(empty?.code == .invalid && empty?.message == "title is empty; give 1 to 50 characters")
        let long = #expect(throws: KeepError.self) { try policies.validate(candidate(title: String(repeating: "a", count: 51))) }
        #expect(long?.message == "title is 51 characters; the limit is 50")
        let big = #expect(throws: KeepError.self) {
            try policies.validate(candidate(content: String(repeating: "x", count: 2_422_210)))
        }
        #expect(big?.code == .tooLarge && big?.message == "content is 2.31 MiB; the limit is 1.50 MiB")
        let both = #expect(throws: KeepError.self) {
            try policies.validate(candidate(title: "", description: String(repeating: "d", count: 251)))
        }
        #expect(both?.message == "description is 251 characters; the limit is 250; title is empty; give 1 to 50 characters")
        #expect(both?.details["rules"] == "description_length,title_length")
        #expect(policies.delay(kind: "mark_logs_deleted", attempt: 1, error: "x") == 1000)
        #expect(policies.delay(kind: "mark_logs_deleted", attempt: 3, error: "x") == 4000)
        #expect(policies.delay(kind: "mark_logs_deleted", attempt: 4, error: "x") == nil)
    }

    @Test func aStricterRuleRejectsWritesWithItsOwnMessage() async throws {
        let folder = try policyFolder(["validation.lua": """
            return { rules = {
              no_drafts = function(doc)
                if doc.title:lower():find("draft", 1, true) then return "titles may not say draft" end
              end,
              json_only = function(doc)
                if not pcall(json.decode, doc.content) then return "content must be JSON" end
              end,
            } }
            """])
        let policies = try load(folder)
        let service = SessionService(storage: try await BackendKind.sqlite.makeStorage(), validator: policies)
        let error = await #expect(throws: KeepError.self) {
            try await service.create(as: "ana", title: "Draft plan", content: "{}")
        }
        #expect(error?.code == .invalid && error?.message == "titles may not say draft")
        let notJSON = await #expect(throws: KeepError.self) {
            try await service.create(as: "ana", title: "plan", content: "not json")
        }
        #expect(notJSON?.message == "content must be JSON")
        #expect(try await service.create(as: "ana", title: "plan", content: "{}").title == "plan")
    }

    @Test func contentIsHandedOverOnlyWhenARuleReadsIt() throws {
        let folder = try policyFolder(["validation.lua": """
            return { rules = {
              a_lazy = function(doc) if rawget(doc, "content") ~= nil then return "copied eagerly" end end,
              b_reads = function(doc) if doc.content ~= "{\\"x\\":1}" then return "wrong content" end end,
            } }
            """])
        try load(folder).validate(candidate(content: "{\"x\":1}"))
    }

    @Test func theRetryScheduleDecidesDelaysAndWhenJobsDie() throws {
        let folder = try policyFolder(["retry.lua": """
            return {
              default = function(attempt) if attempt < 2 then return 50 end end,
              mark_logs_deleted = function(attempt, err) if err:find("busy") then return 10 * attempt end end,
            }
            """])
        let policies = try load(folder)
        #expect(policies.delay(kind: "other", attempt: 1, error: "x") == 50)
        #expect(policies.delay(kind: "other", attempt: 2, error: "x") == nil)
        #expect(policies.delay(kind: "mark_logs_deleted", attempt: 3, error: "unavailable: busy") == 30)
        #expect(policies.delay(kind: "mark_logs_deleted", attempt: 1, error: "internal") == nil)
    }

    @Test func theVisitsPolicyChangesCounting() throws {
        let snapshot = Snapshot(id: try ResourceID("AAAAAAAAAAAA"), owner: "ana", title: "t", description: nil,
                                content: "{}", hash: ContentHash(of: "{}"), createdAt: now())
        let log = AccessLog(visitor: "bob", snapshot: snapshot, at: now())
        let oneSecondLater = Timestamp(millisecondsSinceEpoch: now().millisecondsSinceEpoch + 1000)
        #expect(try load(try policyFolder()).shouldCount(log, now: oneSecondLater) == false)
        let always = try policyFolder(["visits.lua": "return { should_count = function(log, now) return now > log.last_visited_ms end }"])
        #expect(try load(always).shouldCount(log, now: oneSecondLater) == true)
        let without = try policyFolder(removing: ["visits.lua"])
        #expect(try load(without).files == ["validation.lua", "retry.lua", "save.lua"])
        #expect(try load(without).shouldCount(log, now: oneSecondLater) == false)
    }

    @Test(arguments: [
        (["validation.lua": "return { rules = { x = function( } }"], "policies/validation.lua:1:"),
        (["validation.lua": "\n\nerror('boom')"], "policies/validation.lua:3: boom"),
        (["validation.lua": "return 42"], "policies/validation.lua must return a table, got number"),
        (["validation.lua": "return { rules = { x = 1 } }"], "policies/validation.lua: rules.x must be a function, got number"),
        (["validation.lua": "return { rulez = {} }"], "policies/validation.lua: unknown key 'rulez'; allowed: rules"),
        (["retry.lua": "return { other = function() end }"], "policies/retry.lua: default is missing"),
        (["save.lua": "return { poll_interval_ms = -5 }"], "policies/save.lua: poll_interval_ms must be a whole number of milliseconds"),
        (["save.lua": "return { autosave = 1 }"], "policies/save.lua: unknown key 'autosave'"),
        (["save.lua": "return { require_if_match = 'yes' }"], "policies/save.lua: require_if_match must be true or false"),
        (["visits.lua": "return { should_count = true }"], "policies/visits.lua: should_count must be a function, got boolean"),
        (["validation.lua": "while true do end"], "policies/validation.lua: instruction budget"),
        (["validation.lua": "return { rules = { x = function() end, [1] = 2 } }"], "rules must be named"),
    ])
    func badFilesAreReportedWithFileAndLine(edits: [String: String], expected: String) throws {
        let error = #expect(throws: KeepError.self) { try load(try policyFolder(edits)) }
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
    }

    @Test func saveLuaCanRequireIfMatchForTheHTTPAPI() throws {
        #expect(try load(try policyFolder()).save.requireIfMatch == false)
        #expect(try load(try policyFolder(["save.lua": "return { require_if_match = true }"])).save.requireIfMatch)
    }

    @Test func aMissingRequiredFileIsReported() throws {
        let folder = try policyFolder(removing: ["retry.lua"])
        let error = #expect(throws: KeepError.self) { try load(folder) }
        #expect(error?.message == "\(folder)/retry.lua is missing; a policy folder holds validation.lua, retry.lua, save.lua (and optionally visits.lua)")
    }

    @Test func aMissingFolderIsNamedAsAFolder() throws {
        let folder = try policyFolder() + "-gone"
        let error = #expect(throws: KeepError.self) { try load(folder) }
        #expect(error?.code == .notFound && error?.message == "the policy folder \(folder) does not exist")
        let file = try policyFolder() + "/retry.lua"
        #expect((#expect(throws: KeepError.self) { try load(file) })?.message == "the policy folder \(file) is not a folder")
    }

    @Test(arguments: [
        ("42", "returned a number"),
        ("{foo = 1}", "returned a table with the key 'foo'"),
        ("{code = 'invalid'}", "returned a table with code but no message"),
        ("{code = 'nope', message = 'm'}", "returned code 'nope'"),
        ("{message = 7}", "returned a table whose message is a number, not a string"),
        ("{'a', 2}", "returned a list whose item 2 is a number, not a message"),
        ("{'a', message = 'b'}", "returned a table with both a message field and a list of messages"),
        ("{[1] = 'a', [3] = 'c'}", "returned a list of messages with holes"),
        ("true", "returned a boolean"),
    ])
    func aRuleReturningSomethingElseIsAPolicyError(returned: String, expected: String) throws {
        let policies = try load(try policyFolder(["validation.lua": "return { rules = { odd = function() return \(returned) end } }"]))
        let error = #expect(throws: KeepError.self) { try policies.validate(candidate()) }
        #expect(error?.code == .policy)
        #expect(error?.message.hasPrefix("validation rule odd \(expected); a rule returns nothing to accept, or a message, "
            + "a list of messages or {code = \"invalid\" or \"too_large\", message = …} to reject") == true,
            "\(error?.message ?? "no error")")
    }

    @Test func aRuleReturningAListOrAnEmptyListIsJudgedByItsMessages() throws {
        let policies = try load(try policyFolder(["validation.lua": """
            return { rules = { listed = function(doc) if doc.title == "two" then return {"a", "b"} end return {} end } }
            """]))
        try policies.validate(candidate())
        let error = #expect(throws: KeepError.self) { try policies.validate(candidate(title: "two")) }
        #expect(error?.code == .invalid && error?.message == "a; b")
    }

    @Test func aRuleThatFailsIsAPolicyError() throws {
        let policies = try load(try policyFolder(["validation.lua": """
            return { rules = {
              broken = function(doc) if doc.title == "broken" then return doc.nothing.here end end,
              spin = function(doc) if doc.title == "spin" then while true do end end end,
            } }
            """]))
        let broken = #expect(throws: KeepError.self) { try policies.validate(candidate(title: "broken")) }
        #expect(broken?.code == .policy)
        #expect(broken?.message.contains("policies/validation.lua:2: attempt to index a nil value") == true, "\(broken?.message ?? "")")
        let spin = #expect(throws: KeepError.self) { try policies.validate(candidate(title: "spin")) }
        #expect(spin?.code == .limit)
        // The set still works afterwards.
        try policies.validate(candidate())
    }
}
