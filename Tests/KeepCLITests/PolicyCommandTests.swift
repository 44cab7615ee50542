import Foundation
import KeepTestSupport
import Testing

@Suite struct PolicyCommandTests {
    func shippedPolicies() -> String {
        Checkout.policies.path
    }

    @Test func checkReportsAGoodFolderAndABadOne() throws {
        let good = try KeepBinary.run(["policy", "check", shippedPolicies()])
        #expect(good.status == 0)
        #expect(good.stdout.hasSuffix("ok — validation.lua, retry.lua, save.lua, visits.lua\n  autosave_debounce_ms = 200, poll_interval_ms = 10000\n"))
        let directory = try KeepBinary.temporaryDirectory()
        let folder = directory.appendingPathComponent("policies")
        try FileManager.default.copyItem(atPath: shippedPolicies(), toPath: folder.path)
        try "return { rules = { x = 1 } }".write(to: folder.appendingPathComponent("validation.lua"), atomically: true, encoding: .utf8)
        let bad = try KeepBinary.run(["policy", "check", folder.path])
        #expect(bad.status == 1)
        #expect(bad.stderr == "keep: policy: policies/validation.lua: rules.x must be a function, got number\n")
    }

    @Test func aLocalPolicyFolderChangesWhatWritesAreAccepted() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let folder = directory.appendingPathComponent("policies")
        try FileManager.default.copyItem(atPath: shippedPolicies(), toPath: folder.path)
        let strict = """
            return { rules = {
              title_length = function(doc)
                if #doc.title > 10 then return "titles are at most 10 characters here" end
              end,
            } }
            """
        try strict.write(to: folder.appendingPathComponent("validation.lua"), atomically: true, encoding: .utf8)
        let script = "print(select(2, pcall(keep.sessions.create, {title = 'a title of 20 chars!', content = '{}'})))"
        let local = try KeepBinary.run(["run", "-e", script], directory: directory)
        #expect(local.stdout == "invalid: titles are at most 10 characters here\n", "\(local.stderr)")
        let shipped = try KeepBinary.run(["--policies", shippedPolicies(), "run", "-e", script], directory: directory)
        #expect(shipped.stdout.hasPrefix("Session<"), "\(shipped.stderr)")
        let status = try KeepBinary.run(["run", "-e", "local s = keep.policy.status() print(s.version, s.directory, #s.files)"],
                                        directory: directory)
        #expect(status.stdout == "1\tpolicies\t4\n", "\(status.stderr)")
    }

    /// A hook that raises falls back to the built-in default: the visit is
    /// still judged, keep.policy.status() counts the failure with its line,
    /// and stderr warns once (a second failure within the minute is only counted).
    @Test func aPolicyFailingAtRunTimeIsShownInStatusAndWarnedAbout() throws {
        let directory = try KeepBinary.temporaryDirectory()
        let folder = directory.appendingPathComponent("policies")
        try FileManager.default.copyItem(atPath: shippedPolicies(), toPath: folder.path)
        try "return {\n  should_count = function(log, now)\n    error('visits are off')\n  end,\n}\n"
            .write(to: folder.appendingPathComponent("visits.lua"), atomically: true, encoding: .utf8)
        let script = """
            local s = keep.snapshots.create{title = "t", content = "{}"}
            keep.snapshots.get(s.id)
            keep.snapshots.get(s.id)
            for _, f in ipairs(keep.policy.status().failures) do print(f.hook, f.count, f.last_message, f.last_at ~= nil) end
            """
        let result = try KeepBinary.run(["run", "-e", script], directory: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("visits.should_count\t2\tpolicies/visits.lua:3: visits are off"), "\(result.stdout)")
        #expect(result.stdout.hasSuffix("\ttrue\n"))
        #expect(result.stderr.hasPrefix("keep: warning: policy visits.should_count failed, using the built-in 5-minute rule: policy: policies/visits.lua:3: visits are off"),
                "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "keep: warning:").count == 2, "\(result.stderr)")
    }
}

@Suite struct PolicyTestCommandTests {
    @Test func failingPolicyTestsAreReportedAndExitOne() throws {
        let shipped = Checkout.policies.path
        let directory = try KeepBinary.temporaryDirectory()
        let folder = directory.appendingPathComponent("policies")
        try FileManager.default.copyItem(atPath: shipped, toPath: folder.path)
        try """
            describe("mine", function()
              it("passes", function() expect(1 + 1).to_be(2) end)
              it("fails", function() expect(policy.validate { title = "x" }).to_equal({ code = "invalid" }) end)
            end)
            """.write(to: folder.appendingPathComponent("mine_test.lua"), atomically: true, encoding: .utf8)
        let result = try KeepBinary.run(["policy", "test", folder.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("ok   mine › passes\n"))
        #expect(result.stdout.contains("FAIL mine › fails\n     policies/mine_test.lua:3: expected {\"code\":\"invalid\"}, got nil\n"))
        #expect(result.stdout.hasSuffix("15 passed, 1 failed\n"))
        let shippedResult = try KeepBinary.run(["policy", "test", shipped])
        #expect(shippedResult.status == 0 && shippedResult.stdout.hasSuffix("14 passed, 0 failed\n"))
    }
}

@Suite struct PolicyHotReloadCommandTests {
    @Test func aRunningScriptSeesAnEditedTitleLimitWithoutARestart() throws {
        let shipped = Checkout.policies.path
        let directory = try KeepBinary.temporaryDirectory()
        let folder = directory.appendingPathComponent("policies")
        try FileManager.default.copyItem(atPath: shipped, toPath: folder.path)
        let script = """
            local function try() return pcall(keep.sessions.create, { title = ("x"):rep(20), content = "{}" }) end
            print(try() and "accepted" or "rejected")
            io.stdout:flush()
            local deadline = os.clock() + 20
            while os.clock() < deadline do
              local ok, e = try()
              if not ok then print(e.message) return end
            end
            print("no reload seen")
            """
        let process = try KeepBinary.start(["run", "-e", script], directory: directory)
        DispatchQueue.global().asyncAfter(deadline: .now() + 30) {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        let output = (process.standardOutput as! Pipe).fileHandleForReading
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("\n") {
            let chunk = output.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        #expect(String(decoding: seen, as: UTF8.self) == "accepted\n")
        // The newcomer's edit of docs/policies.md: a stricter title limit.
        try """
            return { rules = {
              title_length = function(doc)
                if utf8.len(doc.title) > 10 then return "titles are at most 10 characters now" end
              end,
            } }
            """.write(to: folder.appendingPathComponent("validation.lua"), atomically: true, encoding: .utf8)
        let result = try KeepBinary.finish(process)
        #expect(String(decoding: seen, as: UTF8.self) + result.stdout == "accepted\ntitles are at most 10 characters now\n",
                "\(result.stderr)")
    }
}

/// What a new user trips over in `keep policy` and `--policies` (issue 13).
@Suite struct PolicyNewUserTests {
    static let shipped = Checkout.policies.path

    /// A copy of the shipped policies with `files` written over it.
    func folder(_ files: [String: String]) throws -> URL {
        let folder = try KeepBinary.temporaryDirectory().appendingPathComponent("policies")
        try FileManager.default.copyItem(atPath: Self.shipped, toPath: folder.path)
        for (name, text) in files { try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return folder
    }

    static let brokenRules = """
        return { rules = {
          answer = function(doc) if doc.title == "answer" then return 42 end end,
          shape = function(doc) if doc.title == "shape" then return { foo = 1 } end end,
          spin = function(doc) if doc.title == "spin" then while true do end end end,
        } }
        """
    static let allowed = "a rule returns nothing to accept, or a message, a list of messages or "
        + "{code = \"invalid\" or \"too_large\", message = …} to reject"

    @Test func aRuleReturningATableWithoutAMessageRefusesTheWrite() throws {
        let folder = try folder(["validation.lua": Self.brokenRules])
        let script = """
            for _, title in ipairs{"shape", "answer", "fine"} do
              local ok, e = pcall(keep.sessions.create, {title = title, content = {}})
              print(ok and "accepted" or tostring(e))
            end
            """
        let result = try KeepBinary.run(["--policies", folder.path, "run", "-e", script],
                                        directory: folder.deletingLastPathComponent())
        #expect(result.stdout == """
            policy: validation rule shape returned a table with the key 'foo'; \(Self.allowed)
            policy: validation rule answer returned a number; \(Self.allowed)
            accepted

            """, "\(result.stderr)")
    }

    @Test func policyTestJudgesRulesAsWritesDoAndReportsEveryTest() throws {
        let folder = try folder(["validation.lua": Self.brokenRules, "mine_test.lua": """
            describe("mine", function()
              it("answer", function() expect(policy.validate { title = "answer" }).to_be_nil() end)
              it("shape", function() expect(policy.validate { title = "shape" }).to_be_nil() end)
              it("spin", function() expect(policy.validate { title = "spin" }).to_be_nil() end)
              it("own loop", function() while true do end end)
              it("sizes", function() policy.validate { title = "ok", content_bytes = 3 } end)
              it("still runs", function() expect(policy.validate { title = "fine" }).to_be_nil() end)
            end)
            """])
        let result = try KeepBinary.run(["policy", "test", folder.path, "--run", "mine"])
        #expect(result.status == 1)
        #expect(result.stdout == """
            FAIL mine › answer
                 policies/mine_test.lua:2: policy: validation rule answer returned a number; \(Self.allowed)
            FAIL mine › shape
                 policies/mine_test.lua:3: policy: validation rule shape returned a table with the key 'foo'; \(Self.allowed)
            FAIL mine › spin
                 policies/mine_test.lua:4: limit: validation.lua: instruction budget of 1000000 instructions exceeded
            FAIL mine › own loop
                 limit: instruction budget of 50000000 instructions exceeded
            FAIL mine › sizes
                 policies/mine_test.lua:6: invalid: policy.validate: content_bytes is computed from content, as in the store; give content instead (N bytes: content = ("x"):rep(N))
            ok   mine › still runs
            1 passed, 5 failed

            """, "\(result.stderr)")
    }

    @Test func aPolicyThatDoesNotLoadIsReportedOnce() throws {
        let folder = try folder(["validation.lua": "return { rules = {\n  x = function(doc) return end end,\n} }\n"])
        let result = try KeepBinary.run(["policy", "test", folder.path])
        #expect(result.status == 1)
        #expect(result.stdout == """
            FAIL loading the policies of \(folder.path)
                 policy: policies/validation.lua:2: '}' expected (to close '{' at line 1) near 'end'
                 no test ran: the policies must load before they can be tested
            0 passed, 1 failed

            """, "\(result.stderr)")
    }

    @Test func runSelectsTestsByTheirFullName() throws {
        func names(_ pattern: String) throws -> [String] {
            let result = try KeepBinary.run(["policy", "test", Self.shipped, "--run", pattern])
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.split(separator: "\n").map(String.init)
        }
        #expect(try names("validation › limits descriptions") == [
            "ok   validation › limits descriptions to 250 characters", "1 passed, 0 failed"])
        #expect(try names("^retry") == [
            "ok   retry › waits 1 s, 2 s, 4 s, then gives up", "ok   retry › uses the default schedule for other kinds",
            "2 passed, 0 failed"])
        #expect(try names("[vV]isits? ›").count == 3)
        let none = try KeepBinary.run(["policy", "test", Self.shipped, "--run", "no such test"])
        #expect(none.status == 1 && none.stdout.isEmpty)
        #expect(none.stderr == "keep: not_found: no test of \(Self.shipped) matches --run 'no such test'; it selects the tests "
            + "whose name (\"describe › it\") contains it or matches it as a Lua pattern\n")
    }

    @Test func aFolderWithoutTestsSaysSo() throws {
        let folder = try folder([:])
        for file in ["retry_test.lua", "save_test.lua", "validation_test.lua", "visits_test.lua"] {
            try FileManager.default.removeItem(at: folder.appendingPathComponent(file))
        }
        let result = try KeepBinary.run(["policy", "test", folder.path])
        #expect(result.status == 1 && result.stdout.isEmpty)
        #expect(result.stderr == "keep: not_found: \(folder.path) has no test files; policy tests are files named "
            + "NAME_test.lua beside the policies (describe / it / expect, see docs/policies.md)\n")
    }

    @Test func aMissingFolderIsNamedAndRefusedAtStart() throws {
        let missing = try KeepBinary.temporaryDirectory().appendingPathComponent("missing").path
        let check = try KeepBinary.run(["policy", "check", missing])
        #expect(check.status == 1 && check.stderr == "keep: not_found: the policy folder \(missing) does not exist\n")
        let test = try KeepBinary.run(["policy", "test", missing])
        #expect(test.status == 1 && test.stderr == "keep: not_found: the policy folder \(missing) does not exist\n")
        let refused = "the policy folder \(missing) (--policies) does not exist; give a folder that holds validation.lua, retry.lua, save.lua"
        for arguments in [["run", "-e", "print(1)"], ["repl"]] {
            let result = try KeepBinary.run(["--policies", missing] + arguments, stdin: "print(2)\n")
            #expect(result.status == 2)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.hasPrefix("Error: \(refused)\n"), "\(result.stderr)")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["KEEP_POLICIES"] = missing
        let fromEnvironment = try KeepBinary.run(["run", "-e", "print(1)"], environment: environment)
        #expect(fromEnvironment.status == 2)
        #expect(fromEnvironment.stderr.hasPrefix("Error: the policy folder \(missing) ($KEEP_POLICIES) does not exist;"))
    }
}
