#if canImport(Glibc)
import Glibc
#endif
import CLua
import CLuaShim
import KeepCore
import KeepLua

/// `keep policy test [DIR]`: runs the folder's `*_test.lua` files.
public enum PolicyTests {
    public struct Report: Sendable {
        public var passed = 0
        public var failed = 0
        /// "ok   …" and "FAIL …" lines, in order.
        public var lines: [String] = []
    }

    /// Runs every `*_test.lua` file in `directory`, each in its own sandbox
    /// with the test library's globals.
    public static func run(directory: String) throws(KeepError) -> Report {
        var report = Report()
        let folder = directory.split(separator: "/").last.map(String.init) ?? directory
        for file in try testFiles(in: directory) {
            let lua = try LuaState(trust: .sandboxed(roots: [directory]))
            let stack = lua.stack
            let source = try LuaFiles.read(directory + "/" + file)
            do throws(LuaError) {
                // results table, then the library's globals merged into the file's sandbox.
                stack.newTable(fieldCapacity: 3)
                stack.push(0); stack.setField("passed", of: -2)
                stack.push(0); stack.setField("failed", of: -2)
                stack.newTable(); stack.setField("lines", of: -2)
                let results = stack.top
                try lua.load(Array(PolicyTestLibrary.source.utf8), chunkName: "=(keep policy test)")
                stack.pushCopy(of: results)
                try lua.call(arguments: 1, results: 1, budget: .unlimited)
                let library = stack.top
                try lua.load(source, chunkName: "@\(folder)/\(file)")
                lua.pushEnvironment(ofFunctionAt: -1)
                // The library shares the test file's environment, so its require finds the same modules.
                lua_pushnil(lua.L)
                while keep_next(lua.L, library) == 1 {
                    lua_pushvalue(lua.L, -2)
                    lua_rotate(lua.L, -2, 1)
                    lua_rawset(lua.L, -4)
                }
                stack.pushField("require", of: -1)
                stack.setField("require", of: library)
                stack.pop()
                try lua.call(arguments: 0, results: 0, budget: LuaBudget(instructions: 50_000_000, memory: 256 << 20,
                                                                         time: .seconds(30)))
                if case .integer(let passed) = stack.rawField("passed", of: results) { report.passed += Int(passed) }
                if case .integer(let failed) = stack.rawField("failed", of: results) { report.failed += Int(failed) }
                stack.pushField("lines", of: results)
                var index: Int64 = 1
                while true {
                    lua_rawgeti(lua.L, -1, index)
                    defer { stack.pop() }
                    guard let line = stack.text(at: -1) else { break }
                    report.lines.append(line)
                    index += 1
                }
                stack.setTop(0)
            } catch {
                report.failed += 1
                report.lines.append("FAIL \(folder)/\(file): \(error)")
            }
        }
        return report
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

