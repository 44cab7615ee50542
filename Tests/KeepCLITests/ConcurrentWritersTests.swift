import Foundation
import KeepTestSupport
import Testing

/// Several `keep` processes writing one session at once, each guarding its
/// read-modify-write with `expected_version` (SPEC §1 optimistic
/// concurrency): no increment is lost and none counts twice, on either backend.
@Suite struct ConcurrentWritersTests {
    static let increment = """
        local id, times = ...
        local done, conflicts = 0, 0
        while done < tonumber(times) do
          local s = keep.sessions.get(id)
          local data = json.decode(s.content)
          data.n = data.n + 1
          local ok, e = pcall(keep.sessions.update, id, {content = json.encode(data), expected_version = s.version})
          if ok then done = done + 1
          elseif e.code == "conflict" then conflicts = conflicts + 1
          else error(e) end
        end
        print(done, conflicts)
        """

    @Test(arguments: BackendKind.allCases)
    func fourProcessesIncrementingOneSessionEndAtTheSum(_ kind: BackendKind) throws {
        let work = try TemporaryDirectory.make("keep-writers")
        let db = kind == .postgres ? try BackendKind.freshPostgresURL() : work.appendingPathComponent("keep.sqlite").path
        let script = work.appendingPathComponent("increment.lua")
        try Self.increment.write(to: script, atomically: true, encoding: .utf8)
        let created = try KeepBinary.run(["--db", db, "--user", "ana", "run", "-e",
                                          #"io.write(keep.sessions.create{title = "counter", content = '{"n":0}'}.id)"#])
        #expect(created.status == 0, "\(created.stderr)")
        let id = created.stdout

        let writers = try (0 ..< 4).map { _ in
            try KeepBinary.start(["--db", db, "--user", "ana", "run", script.path, id, "200"])
        }
        let results = try writers.map { try KeepBinary.finish($0) }
        for result in results {
            #expect(result.status == 0 && result.stdout.hasPrefix("200\t"), "\(result.stdout) \(result.stderr)")
        }
        let final = try KeepBinary.run(["--db", db, "--user", "ana", "run", "-e", """
            local s = keep.sessions.get("\(id)")
            print(json.decode(s.content).n, s.version)
            """])
        #expect(final.stdout == "800\t801\n", "\(final.stdout) \(final.stderr)")
    }
}
