import KeepJSON
import KeepWorkbench
import Testing

@Suite struct ThreeWayMergeTests {
    private func merge(_ base: String, _ ours: String, _ theirs: String) -> ThreeWayMerge.Outcome {
        ThreeWayMerge.merge(base: base, ours: ours, theirs: theirs)
    }

    private let dashboards = #"{"dashboards":[{"id":"d1","name":"One","size":1},{"id":"d2","name":"Two","size":2}],"title":"T"}"#

    // MARK: Fast paths

    @Test("an unchanged side gives the other side's text verbatim, JSON or not")
    func fastPaths() {
        #expect(merge("{}", "not json", "not json") == .merged("not json"))
        #expect(merge("{ }", "{ }", "[1,  2]") == .merged("[1,  2]"))
        #expect(merge("{ }", "{\"a\" : 1}", "{ }") == .merged("{\"a\" : 1}"))
        // Canonically equivalent but different bytes: not the same text.
        #expect(merge("1", "\"\u{E9}\"", "\"e\u{301}\"") == .conflict(["$"]))
    }

    // MARK: Objects and identified arrays

    @Test("edits to two different dashboards merge")
    func differentDashboards() {
        let ours = #"{"dashboards":[{"id":"d1","name":"First","size":1},{"id":"d2","name":"Two","size":2}],"title":"T"}"#
        let theirs = #"{"dashboards":[{"id":"d1","name":"One","size":1},{"id":"d2","name":"Two","size":20}],"title":"T"}"#
        #expect(merge(dashboards, ours, theirs) ==
            .merged(#"{"dashboards":[{"id":"d1","name":"First","size":1},{"id":"d2","name":"Two","size":20}],"title":"T"}"#))
    }

    @Test("edits to different keys of one object merge, with additions and removals")
    func differentKeys() {
        #expect(merge(#"{"a":1,"b":2,"c":3,"d":4}"#, #"{"a":10,"b":2,"c":3,"d":4,"e":5}"#, #"{"a":1,"b":20,"d":4}"#) ==
            .merged(#"{"a":10,"b":20,"d":4,"e":5}"#))
    }

    @Test("the same change on both sides merges")
    func sameChange() {
        #expect(merge(#"{"a":1,"b":1}"#, #"{"a":2,"b":1}"#, #"{ "b": 1, "a": 2 }"#) == .merged(#"{"a":2,"b":1}"#))
        #expect(merge(#"{"a":1,"b":1}"#, #"{"a":2,"b":1,"c":3}"#, #"{"a":2,"b":1}"#) == .merged(#"{"a":2,"b":1,"c":3}"#))
        #expect(merge(#"{"a":1}"#, #"{"a":1,"n":{"x":1}}"#, #"{"a":1,"n":{"x":1}, "m":0}"#) ==
            .merged(#"{"a":1,"m":0,"n":{"x":1}}"#))
    }

    @Test("a key both sides added merges inside when both values are objects")
    func bothAddedObjects() {
        #expect(merge(#"{}"#, #"{"n":{"x":1,"s":0}}"#, #"{"n":{"y":2,"s":0}}"#) == .merged(#"{"n":{"s":0,"x":1,"y":2}}"#))
        #expect(merge(#"{}"#, #"{"n":{"s":1}}"#, #"{"n":{"s":2}}"#) == .conflict(["n.s"]))
        #expect(merge(#"{}"#, #"{"n":[1]}"#, #"{"n":[2]}"#) == .conflict(["n"]))
    }

    @Test("an overlapping scalar edit conflicts at its exact path")
    func overlappingScalar() {
        let ours = #"{"dashboards":[{"id":"d1","name":"One","size":1},{"id":"d2","name":"Ours","size":2}],"title":"T"}"#
        let theirs = #"{"dashboards":[{"id":"d1","name":"One","size":1},{"id":"d2","name":"Theirs","size":2}],"title":"T"}"#
        #expect(merge(dashboards, ours, theirs) == .conflict([#"dashboards[id="d2"].name"#]))
        #expect(merge("1", "2", "3") == .conflict(["$"]))
        #expect(merge(#"{"a":1}"#, #"{"a":"1"}"#, #"{"a":[1]}"#) == .conflict(["a"]))
    }

    @Test("all conflicts are reported, in document order, with paths for odd keys and ids")
    func allConflicts() {
        let base = #"{"dashboards":[{"id":"d1","name":"One"},{"id":"d2","name":"Two"}],"metadata":{"tags":["a"]},"x y":{"a.b":1},"z":[{"id":7,"v":0}]}"#
        let ours = #"{"dashboards":[{"id":"d1","name":"One"},{"id":"d2","name":"Ours"}],"metadata":{"tags":["a","b"]},"x y":{"a.b":2},"z":[{"id":7,"v":1}]}"#
        let theirs = #"{"dashboards":[{"id":"d1","name":"One"},{"id":"d2","name":"Theirs"}],"metadata":{"tags":["a","c","d"]},"x y":{"a.b":3},"z":[{"id":7,"v":2}]}"#
        #expect(merge(base, ours, theirs) == .conflict([
            #"dashboards[id="d2"].name"#, "metadata.tags", #"["x y"]["a.b"]"#, "z[id=7].v",
        ]))
    }

    @Test("removed on one side and changed on the other conflicts")
    func removedVersusChanged() {
        let ours = #"{"dashboards":[{"id":"d1","name":"One","size":1}],"title":"T"}"#
        let theirs = #"{"dashboards":[{"id":"d1","name":"One","size":1},{"id":"d2","name":"Changed","size":2}],"title":"T"}"#
        #expect(merge(dashboards, ours, theirs) == .conflict([#"dashboards[id="d2"]"#]))
        #expect(merge(dashboards, theirs, ours) == .conflict([#"dashboards[id="d2"]"#]))
        #expect(merge(#"{"a":1,"b":1}"#, #"{"b":1}"#, #"{"a":2,"b":1}"#) == .conflict(["a"]))
        #expect(merge(#"{"a":1,"b":1}"#, #"{"b":2}"#, #"{"b":1}"#) == .merged(#"{"b":2}"#))
        #expect(merge(#"{"a":1,"b":1}"#, #"{"b":2}"#, #"{"c":1,"b":1}"#) == .merged(#"{"b":2,"c":1}"#))
    }

    @Test("both sides add a dashboard")
    func bothAdd() {
        let ours = #"{"dashboards":[{"id":"d1","name":"One","size":1},{"id":"d2","name":"Two","size":2},{"id":"d3","name":"Ours"}],"title":"T"}"#
        let theirs = #"{"dashboards":[{"id":"d4","name":"Theirs"},{"id":"d1","name":"One","size":1},{"id":"d2","name":"Two","size":2},{"id":"d5","name":"Theirs too"}],"title":"T"}"#
        #expect(merge(dashboards, ours, theirs) == .merged(
            #"{"dashboards":[{"id":"d4","name":"Theirs"},{"id":"d1","name":"One","size":1},{"id":"d2","name":"Two","size":2},{"id":"d3","name":"Ours"},{"id":"d5","name":"Theirs too"}],"title":"T"}"#))

        // The same new dashboard on both sides appears once; different ones after the same neighbour, ours first.
        let base = #"[{"id":1},{"id":2}]"#
        #expect(merge(base, #"[{"id":1},{"id":9},{"id":2},{"id":3}]"#, #"[{"id":1},{"id":8},{"id":2},{"id":3}]"#) ==
            .merged(#"[{"id":1},{"id":9},{"id":8},{"id":2},{"id":3}]"#))
        #expect(merge(base, #"[{"id":1},{"id":2},{"id":3,"v":1}]"#, #"[{"id":1},{"id":2},{"id":3,"v":2}]"#) ==
            .conflict(["[id=3].v"]))
    }

    @Test("one side deletes a dashboard the other did not touch")
    func deleteUntouched() {
        let ours = #"{"dashboards":[{"id":"d2","name":"Two","size":2}],"title":"T"}"#
        let theirs = #"{"dashboards":[{"id":"d1","name":"One","size":1},{"id":"d2","name":"Two","size":2}],"title":"New"}"#
        #expect(merge(dashboards, ours, theirs) == .merged(#"{"dashboards":[{"id":"d2","name":"Two","size":2}],"title":"New"}"#))
        #expect(merge(dashboards, theirs, ours) == .merged(#"{"dashboards":[{"id":"d2","name":"Two","size":2}],"title":"New"}"#))
    }

    @Test("a reorder on one side combines with an edit on the other")
    func reorderAndEdit() {
        let base = #"[{"id":"a","v":1},{"id":"b","v":2},{"id":"c","v":3}]"#
        let ours = #"[{"id":"c","v":3},{"id":"a","v":1},{"id":"b","v":2}]"#
        let theirs = #"[{"id":"a","v":1},{"id":"b","v":20},{"id":"c","v":3},{"id":"d","v":4}]"#
        // "d" follows "c" on its side, so it stays after "c" wherever "c" moved.
        let merged = #"[{"id":"c","v":3},{"id":"d","v":4},{"id":"a","v":1},{"id":"b","v":20}]"#
        #expect(merge(base, ours, theirs) == .merged(merged))
        #expect(merge(base, theirs, ours) == .merged(merged))
        // The same reorder on both sides is no conflict.
        #expect(merge(base, ours, #"[{"id":"c","v":30},{"id":"a","v":1},{"id":"b","v":2}]"#) ==
            .merged(#"[{"id":"c","v":30},{"id":"a","v":1},{"id":"b","v":2}]"#))
    }

    @Test("different reorders on both sides conflict at the array")
    func bothReorder() {
        let base = #"{"dashboards":[{"id":"a"},{"id":"b"},{"id":"c"}],"x":{"v":1}}"#
        let ours = #"{"dashboards":[{"id":"c"},{"id":"a"},{"id":"b"}],"x":{"v":2}}"#
        let theirs = #"{"dashboards":[{"id":"b"},{"id":"a"},{"id":"c"}],"x":{"v":3}}"#
        #expect(merge(base, ours, theirs) == .conflict(["dashboards", "x.v"]))
    }

    @Test("arrays without ids merge position by position when no length changes")
    func positional() {
        #expect(merge("[1,2,3]", "[9,2,3]", "[1,2,8]") == .merged("[9,2,8]"))
        #expect(merge(#"{"m":[{"a":1,"b":1},[1]]}"#, #"{"m":[{"a":2,"b":1},[1]]}"#, #"{"m":[{"a":1,"b":2},[3]]}"#) ==
            .merged(#"{"m":[{"a":2,"b":2},[3]]}"#))
        #expect(merge("[1,2]", "[5,2]", "[6,2]") == .conflict(["[0]"]))
        // One side changing the length is a plain change.
        #expect(merge("[1,2]", "[1,2,3]", "[1,2]") == .merged("[1,2,3]"))
        #expect(merge(#"{"k":[1,2],"j":0}"#, #"{"k":[1,2,3],"j":0}"#, #"{"k":[1,2],"j":1}"#) == .merged(#"{"j":1,"k":[1,2,3]}"#))
        // Duplicate ids make an array positional.
        #expect(merge(#"[{"id":1,"v":0},{"id":1,"v":0}]"#, #"[{"id":1,"v":1},{"id":1,"v":0}]"#, #"[{"id":1,"v":0},{"id":1,"v":2}]"#) ==
            .merged(#"[{"id":1,"v":1},{"id":1,"v":2}]"#))
    }

    @Test("both sides changing an array's length conflicts")
    func lengthChanges() {
        #expect(merge(#"{"tags":["a"]}"#, #"{"tags":["a","b"]}"#, #"{"tags":[]}"#) == .conflict(["tags"]))
        #expect(merge("[1,2]", "[1,2,3]", "[1,2,4]") == .conflict(["$"]))
    }

    @Test("an input that does not parse is named with the error")
    func notJSON() {
        #expect(merge("{}", "{", "[]") == .notJSON("ours: unexpected end of input in an object at line 1 column 2 (byte 2)"))
        #expect(merge("{}", "[]", "[1,]") == .notJSON("theirs: unexpected character ']', expected a value at line 1 column 4 (byte 4)"))
        #expect(merge("nul", "[]", "{}") == .notJSON("base: invalid literal, expected 'null' at line 1 column 1 (byte 1)"))
    }

    // MARK: The parser and serializer

    @Test("numbers merge exactly as written")
    func numbers() {
        #expect(merge(#"{"a":1,"n":12345678901234567890,"d":1.10}"#, #"{"a":2,"n":12345678901234567890,"d":1.10}"#,
                      #"{"a":1,"n":12345678901234567890,"d":1.10,"z":-0}"#) ==
            .merged(#"{"a":2,"d":1.10,"n":12345678901234567890,"z":-0}"#))
    }

    @Test("pretty-printed inputs merge into compact, ordered output")
    func prettyInputs() {
        let base = "{\n  \"b\": [1, 2],\n  \"a\": {\"y\": 1, \"x\": \"\\u0041\"}\n}"
        let ours = "{\n  \"b\": [1, 3],\n  \"a\": {\"y\": 1, \"x\": \"\\u0041\"}\n}"
        let theirs = "{\n  \"b\": [1, 2],\n  \"a\": {\"y\": 2, \"x\": \"\\u0041\"}\n}"
        #expect(merge(base, ours, theirs) == .merged(#"{"a":{"x":"A","y":2},"b":[1,3]}"#))
    }

    @Test("a document with repeated keys merges like any other: the last member of each key counts")
    func duplicateKeys() {
        // As json.decode reads them: base {"a":2,"b":1}, ours {"a":2,"b":5}, theirs {"a":3,"b":1}.
        #expect(merge(#"{"a":1,"b":1,"a":2}"#, #"{"a":2,"b":5}"#, #"{"b":1,"a":0,"a":3}"#) == .merged(#"{"a":3,"b":5}"#))
        // A side that only dropped the shadowed member made no change.
        #expect(merge(#"{"a":1,"a":2}"#, #"{"a":2}"#, #"{"a":1,"a":2,"c":3}"#) == .merged(#"{"a":2,"c":3}"#))
        // Both sides changing the winning member conflicts at its key.
        #expect(merge(#"{"a":1,"a":2}"#, #"{"a":3}"#, #"{"a":4,"a":5}"#) == .conflict(["a"]))
        // Nested, and in identified arrays.
        let base = #"{"dashboards":[{"id":"d1","name":"x","name":"One"},{"id":"d2","name":"Two"}]}"#
        let ours = #"{"dashboards":[{"id":"d1","name":"First"},{"id":"d2","name":"Two"}]}"#
        let theirs = #"{"dashboards":[{"id":"d1","name":"One"},{"id":"d2","name":"Two","name":"Second"}]}"#
        #expect(merge(base, ours, theirs) == .merged(#"{"dashboards":[{"id":"d1","name":"First"},{"id":"d2","name":"Second"}]}"#))
    }

    @Test("documents nested as deep as json.decode allows merge")
    func deepDocuments() {
        let depth = JSONLimits.maximumDepth
        func nested(_ leaf: String) -> String {
            String(repeating: #"{"a":"#, count: depth - 1) + "[\(leaf),0]" + String(repeating: "}", count: depth - 1)
        }
        #expect(merge(nested("1"), nested("2"), nested("1").replacingOccurrences(of: ",0]", with: ",5]")) ==
            .merged(nested("2").replacingOccurrences(of: ",0]", with: ",5]")))
        let tooDeep = "[" + nested("1") + "]"
        guard case .notJSON(let message) = merge("[]", tooDeep, "[1]") else {
            Issue.record("a document deeper than the limit merged")
            return
        }
        #expect(message.hasPrefix("ours: nesting deeper than \(depth) levels"))
    }

    // MARK: Large documents

    /// About 1.5 MB in canonical form: 80 dashboards of 8 modules of 30 items.
    private func largeDocument(dashboards count: Int = 80, name: (Int) -> String = { "Dashboard \($0)" },
                               value: (Int, Int, Int) -> Int = { $0 + $1 + $2 }) -> String {
        var parts: [String] = []
        for d in 0 ..< count {
            var modules: [String] = []
            for m in 0 ..< 8 {
                let items = (0 ..< 30).map { i in
                    #"{"color":"steelblue","id":"i\#(i)","label":"Series \#(i) of module \#(m)","value":\#(value(d, m, i))}"#
                }
                modules.append(#"{"id":"m\#(m)","items":[\#(items.joined(separator: ","))],"kind":"chart"}"#)
            }
            parts.append(#"{"id":"d\#(d)","modules":[\#(modules.joined(separator: ","))],"name":"\#(name(d))"}"#)
        }
        return #"{"dashboards":[\#(parts.joined(separator: ","))],"version":1}"#
    }

    @Test("two edited 1.5 MB documents merge")
    func largeMerge() {
        let base = largeDocument()
        let ours = largeDocument(value: { d, m, i in d == 3 && m == 2 && i == 5 ? -1 : d + m + i })
        let theirs = largeDocument(dashboards: 81, name: { $0 == 70 ? "Renamed" : "Dashboard \($0)" })
        let expected = largeDocument(dashboards: 81, name: { $0 == 70 ? "Renamed" : "Dashboard \($0)" },
                                     value: { d, m, i in d == 3 && m == 2 && i == 5 ? -1 : d + m + i })
        #expect(base.utf8.count > 1_400_000)
        #expect(merge(base, ours, theirs) == .merged(expected))
        let conflicting = largeDocument(value: { d, m, i in d == 3 && m == 2 && i == 5 ? -2 : d + m + i })
        #expect(merge(base, ours, conflicting) == .conflict([#"dashboards[id="d3"].modules[id="m2"].items[id="i5"].value"#]))
    }
}
