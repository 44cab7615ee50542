import Testing

extension WorkbenchCommandTests {
    /// A stored document with repeated keys (which `json.decode` reads, the
    /// last member winning) merges like any other: the merge reads it by the
    /// same rule instead of refusing it as not JSON.
    @Test func documentWithRepeatedKeysMerges() throws {
        let result = try keep("""
            local s = keep.sessions.create{title = "Dup", content = [[{"dashboards":[{"id":"d1","name":"x","name":"Logs"},{"id":"d2","name":"Map"}],"version":3}]]}
            local w = keep.workbench.open(s.id)
            w:edit(function(doc) doc.dashboards[1].name = "Mine" end)
            s:update{content = [[{"dashboards":[{"id":"d1","name":"x","name":"Logs"},{"id":"d2","name":"Map","name":"Theirs"}],"version":2,"version":3}]]}
            print(w:save{on_conflict = "merge", fallback = "reject"})
            local data = keep.sessions.get(s.id):data()
            print(data.dashboards[1].name, data.dashboards[2].name, data.version)
            """)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "saved\tmerged\nMine\tTheirs\t3\n", "\(result.stderr)")
    }
}
