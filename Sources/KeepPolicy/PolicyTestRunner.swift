#if canImport(Glibc)
import Glibc
#endif
import KeepCore
import KeepLua

/// `keep policy test [DIR]`: runs the folder's `*_test.lua` files.
///
/// The folder's policies are loaded once, as a `PolicySet`, exactly as the
/// store loads them; `policy.validate`, `policy.retry` and
/// `policy.should_count` call that set, so a rule is judged on the store's
/// evaluation path and under its budget (`LuaBudget.policy`). A set that does
/// not load is reported once and no test runs.
///
/// Each file runs in its own sandbox in two steps, as busted and jest do: its
/// top level (with the `describe` bodies) registers the `it` tests, then every
/// test runs as its own call under `testBudget`, so a failing or runaway test
/// is reported as itself and the others still run.
public enum PolicyTestRunner {
    public struct Report: Sendable {
        public var passed = 0
        public var failed = 0
        /// "ok   …" and "FAIL …" lines, in order.
        public var lines: [String] = []
    }

    /// The budget of one test's own code (and of a file's top level); the
    /// policies it calls run under `LuaBudget.policy`, as in the store.
    public static let testBudget = LuaBudget(instructions: 50_000_000, memory: 256 << 20, time: .seconds(30))

    /// Runs every `*_test.lua` file in `directory`. With `pattern`, only the
    /// tests whose full name ("describe › it") contains it as plain text or
    /// matches it as a Lua pattern. Throws `not_found` when the folder has no
    /// test files or no test matches.
    public static func run(directory: String, matching pattern: String? = nil,
                           clock: @escaping @Sendable () -> Timestamp) throws(KeepError) -> Report {
        try PolicyFolder.check(directory)
        let files = try testFiles(in: directory)
        guard !files.isEmpty else {
            throw KeepError(.notFound, "\(directory) has no test files; policy tests are files named NAME_test.lua "
                + "beside the policies (describe / it / expect, see docs/policies.md)", details: ["folder": .text(directory)])
        }
        let folder = directory.split(separator: "/").last.map(String.init) ?? directory
        var report = Report()
        let policies: PolicySet
        do {
            policies = try PolicySet(directory: directory, clock: clock)
        } catch {
            report.failed = 1
            report.lines.append("FAIL loading the policies of \(directory)\n     \(error)\n"
                + "     no test ran: the policies must load before they can be tested")
            return report
        }
        var registered = 0
        for file in files {
            registered += runFile(file, in: directory, folder: folder, pattern: pattern,
                                  bindings: PolicyTestBindings(policies: policies, now: clock), into: &report)
        }
        if let pattern, registered == 0, report.lines.isEmpty {
            throw KeepError(.notFound, "no test of \(directory) matches --run '\(pattern)'; it selects the tests whose "
                + "name (\"describe › it\") contains it or matches it as a Lua pattern")
        }
        return report
    }

    /// Runs one file's selected tests into `report`; returns how many ran.
    private static func runFile(_ file: String, in directory: String, folder: String, pattern: String?,
                                bindings: PolicyTestBindings, into report: inout Report) -> Int {
        let tests: [(name: String, body: Int32)]
        let lua: LuaState
        do {
            lua = try LuaState(trust: .sandboxed(roots: [directory]))
            tests = try collect(file, in: directory, folder: folder, pattern: pattern, bindings: bindings, lua: lua)
        } catch {
            report.failed += 1
            report.lines.append("FAIL \(folder)/\(file): \(error)")
            return 0
        }
        for test in tests {
            lua.stack.push(reference: test.body)
            do throws(LuaError) {
                try lua.call(arguments: 0, results: 0, budget: testBudget)
                report.passed += 1
                report.lines.append("ok   \(test.name)")
            } catch {
                report.failed += 1
                report.lines.append("FAIL \(test.name)\n     \(error)")
            }
            lua.stack.setTop(0)
        }
        return tests.count
    }

    /// Runs the file's top level with the test library and returns the
    /// selected tests: names and registry references of their bodies.
    private static func collect(_ file: String, in directory: String, folder: String, pattern: String?,
                                bindings: PolicyTestBindings, lua: LuaState) throws(LuaError) -> [(name: String, body: Int32)] {
        let stack = lua.stack
        let source: [UInt8]
        do {
            source = try LuaFiles.read(directory + "/" + file)
        } catch {
            throw LuaError(kind: .runtime, message: error.description)
        }
        // The registered tests, then the library's globals merged into the file's sandbox.
        stack.newTable()
        let registry = stack.top
        try lua.load(Array(PolicyTestLibrary.source.utf8), chunkName: "=(keep policy test)")
        stack.pushCopy(of: registry)
        if let pattern { stack.push(pattern) } else { stack.pushNil() }
        try lua.call(arguments: 2, results: 1, budget: .unlimited)
        let library = stack.top
        stack.pushField("policy", of: library)
        bindings.install(in: stack, table: stack.top)
        stack.pop()
        try lua.load(source, chunkName: "@\(folder)/\(file)")
        lua.pushEnvironment(ofFunctionAt: -1)
        stack.forEachEntry(of: library) {
            stack.pushCopy(of: -2)
            stack.pushCopy(of: -2)
            stack.setRaw(of: -5)
        }
        stack.pop()
        try lua.call(arguments: 0, results: 0, budget: testBudget)
        var tests: [(name: String, body: Int32)] = []
        var index: Int64 = 1
        while true {
            stack.pushElement(index, of: registry)
            guard stack.type(at: -1) == .table else { stack.pop(); break }
            let name = stack.rawField("name", of: -1).text ?? "?"
            stack.pushField("body", of: -1)
            tests.append((name, stack.popReference()))
            stack.pop()
            index += 1
        }
        stack.setTop(0)
        return tests
    }

    static func testFiles(in directory: String) throws(KeepError) -> [String] {
        guard let handle = opendir(directory) else {
            throw KeepError(.notFound, "cannot open the policy folder \(directory)")
        }
        defer { closedir(handle) }
        var files: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix("_test.lua") { files.append(name) }
        }
        return files.sorted()
    }
}
