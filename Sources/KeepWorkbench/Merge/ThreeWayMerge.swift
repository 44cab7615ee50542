import KeepJSON

/// Three-way merge of JSON documents, for two working copies of one stored
/// document edited concurrently: `base` is the text both started from, `ours`
/// the local edit, `theirs` the version stored meanwhile.
///
/// Edits that touch different parts of the document combine; edits that
/// overlap are reported as conflicts by path, all of them at once, so the user
/// sees everything that needs a decision.
public enum ThreeWayMerge {
    public enum Outcome: Equatable, Sendable {
        /// The merged document as compact JSON, or one input verbatim when the
        /// other side made no change.
        case merged(String)
        /// Paths where the edits overlap, in document order, e.g.
        /// `dashboards[id="d2"].name`; `$` is the root itself.
        case conflict([String])
        /// Which input ("base", "ours" or "theirs") did not parse, and why.
        case notJSON(String)
    }

    public static func merge(base: String, ours: String, theirs: String) -> Outcome {
        // On the raw text first: an unchanged side needs no parsing, nor valid JSON.
        if sameBytes(ours, theirs) { return .merged(ours) }
        if sameBytes(ours, base) { return .merged(theirs) }
        if sameBytes(theirs, base) { return .merged(ours) }

        var trees: [JSONTree] = []
        for (name, text) in [("base", base), ("ours", ours), ("theirs", theirs)] {
            do throws(JSONError) {
                trees.append(try JSONTree.parse(text))
            } catch {
                return .notJSON("\(name): \(error)")
            }
        }
        var merger = Merger()
        let merged = merger.merge(Value(trees[0], 0), Value(trees[1], 0), Value(trees[2], 0))
        guard let merged, merger.conflicts.isEmpty else { return .conflict(merger.conflicts) }
        var writer = JSONWriter(capacity: max(ours.utf8.count, theirs.utf8.count))
        do throws(JSONError) {
            try merged.write(to: &writer)
        } catch {
            // Only running out of memory stops the writer (its buffer has no limit).
            _ = writer.finish()
            return .notJSON("merged: \(error)")
        }
        return .merged(writer.finish())
    }
}

/// A value of one of the three parsed inputs.
private struct Value {
    let tree: JSONTree
    let index: Int

    init(_ tree: JSONTree, _ index: Int) {
        self.tree = tree
        self.index = index
    }

    var kind: JSONTree.Kind { tree.nodes[index].kind }

    func equals(_ other: Value) -> Bool {
        tree.valueEquals(index, other.tree, other.index)
    }

    /// This object member's key, as an exact dictionary key.
    var key: ExactString { ExactString(tree.key(index)) }

    /// The elements of this array or the members of this object.
    var children: [Value] { tree.children(index).map { Value(tree, $0) } }

    /// The members of this object by key.
    func memberTable() -> [ExactString: Value] {
        var table: [ExactString: Value] = [:]
        table.reserveCapacity(tree.nodes[index].count)
        for member in children { table[member.key] = member }
        return table
    }
}

/// The merged document: whole values taken from the inputs, and the objects
/// and arrays the merge had to rebuild around changes from both sides.
private indirect enum Merged {
    case value(Value)
    /// Members keyed as the input member each came from.
    case object([(member: Value, value: Merged)])
    case array([Merged])

    func write(to writer: inout JSONWriter) throws(JSONError) {
        switch self {
        case .value(let value):
            try writer.write(value.tree, value.index)
        case .object(let members):
            try writer.writeObject(keys: members.map { $0.member.tree.key($0.member.index) }) { (writer, n) throws(JSONError) in
                try members[n].value.write(to: &writer)
            }
        case .array(let elements):
            try writer.append(UInt8(ascii: "["))
            for (n, element) in elements.enumerated() {
                if n > 0 { try writer.append(UInt8(ascii: ",")) }
                try element.write(to: &writer)
            }
            try writer.append(UInt8(ascii: "]"))
        }
    }
}

/// One step of a conflict path.
private enum PathStep {
    /// An object member, named by its key.
    case key(Value)
    case index(Int)
    case id(ElementID)
}

/// The "id" of an element of an identified array. A string and a number are
/// different ids even when they read alike ("7" and 7).
private struct ElementID: Hashable {
    var isNumber: Bool
    var text: ExactString

    var pathText: String { isNumber ? text.text : JSONTree.quoted(text.text) }
}

/// An array whose elements are all objects with a unique string or number
/// "id", so elements can be matched by id instead of position.
private struct IdentifiedArray {
    var ids: [ElementID] = []
    var elements: [ElementID: Value] = [:]

    init?(_ array: Value) {
        let tree = array.tree
        let children = tree.children(array.index)
        ids.reserveCapacity(children.count)
        elements.reserveCapacity(children.count)
        let idKey = UnsafeBufferPointer<UInt8>(start: ("id" as StaticString).utf8Start, count: 2)
        for element in children {
            guard tree.nodes[element].kind == .object,
                  let member = tree.children(element).first(where: { bytesEqual(tree.key($0), idKey) })
            else { return nil }
            let id: ElementID
            switch tree.nodes[member].kind {
            case .string: id = ElementID(isNumber: false, text: ExactString(tree.content(member)))
            case .number: id = ElementID(isNumber: true, text: ExactString(tree.text(member)))
            default: return nil
            }
            guard elements.updateValue(Value(tree, element), forKey: id) == nil else { return nil }
            ids.append(id)
        }
    }
}

/// How a member or element present on some of the three sides comes out.
private enum Resolution {
    case value(Merged)
    case removed
    case conflicted
}

private struct Merger {
    private(set) var conflicts: [String] = []
    private var path: [PathStep] = []

    /// The merged value, or nil when a conflict was recorded under this path.
    mutating func merge(_ base: Value, _ ours: Value, _ theirs: Value) -> Merged? {
        if ours.equals(theirs) { return .value(ours) }
        if ours.equals(base) { return .value(theirs) }
        if theirs.equals(base) { return .value(ours) }
        switch (base.kind, ours.kind, theirs.kind) {
        case (.object, .object, .object):
            return mergeObjects(base, ours, theirs)
        case (.array, .array, .array):
            if let b = IdentifiedArray(base), let o = IdentifiedArray(ours), let t = IdentifiedArray(theirs) {
                return mergeIdentified(b, o, t)
            }
            let count = ours.tree.nodes[ours.index].count
            if base.tree.nodes[base.index].count == count, theirs.tree.nodes[theirs.index].count == count {
                return mergePositional(base, ours, theirs)
            }
            return conflict()
        default:
            return conflict()
        }
    }

    private mutating func conflict() -> Merged? {
        conflicts.append(Merger.describe(path))
        return nil
    }

    /// The rules shared by object members and identified elements.
    private mutating func resolve(_ base: Value?, _ ours: Value?, _ theirs: Value?) -> Resolution {
        switch (base, ours, theirs) {
        case let (base?, ours?, theirs?):
            return merge(base, ours, theirs).map(Resolution.value) ?? .conflicted
        case let (nil, ours?, theirs?):
            if ours.equals(theirs) { return .value(.value(ours)) }
            if ours.kind == .object, theirs.kind == .object {
                return mergeObjects(nil, ours, theirs).map(Resolution.value) ?? .conflicted
            }
            _ = conflict()
            return .conflicted
        case let (nil, ours?, nil):
            return .value(.value(ours))
        case let (nil, nil, theirs?):
            return .value(.value(theirs))
        case let (base?, kept?, nil), let (base?, nil, kept?):
            if kept.equals(base) { return .removed }
            _ = conflict()
            return .conflicted
        case (_, nil, nil):
            return .removed
        }
    }

    /// Member by member; a nil base is the empty object (a key both sides added).
    private mutating func mergeObjects(_ base: Value?, _ ours: Value, _ theirs: Value) -> Merged? {
        let b = base?.memberTable() ?? [:]
        let t = theirs.memberTable()
        var merged: [(member: Value, value: Merged)] = []
        var clean = true
        func visit(_ key: ExactString, _ ours: Value?, _ theirs: Value?, _ merger: inout Merger) {
            let member = ours ?? theirs!
            merger.path.append(.key(member))
            defer { merger.path.removeLast() }
            switch merger.resolve(b[key], ours, theirs) {
            case .value(let value): merged.append((member, value))
            case .removed: break
            case .conflicted: clean = false
            }
        }
        // Ours' order, then keys only theirs has: document order for the conflicts.
        var inOurs: Set<ExactString> = []
        for member in ours.children {
            let key = member.key
            inOurs.insert(key)
            visit(key, member, t[key], &self)
        }
        for member in theirs.children {
            let key = member.key
            if !inOurs.contains(key) { visit(key, nil, member, &self) }
        }
        return clean ? .object(merged) : nil
    }

    private mutating func mergePositional(_ base: Value, _ ours: Value, _ theirs: Value) -> Merged? {
        let b = base.children
        let o = ours.children
        let t = theirs.children
        var merged: [Merged] = []
        merged.reserveCapacity(o.count)
        var clean = true
        for n in o.indices {
            path.append(.index(n))
            if let value = merge(b[n], o[n], t[n]) {
                merged.append(value)
            } else {
                clean = false
            }
            path.removeLast()
        }
        return clean ? .array(merged) : nil
    }

    /// Matches elements by id. Common elements keep the order of the side that
    /// reordered them (a conflict if both did, differently); added elements go
    /// after their nearest preceding common neighbour on their side.
    private mutating func mergeIdentified(_ b: IdentifiedArray, _ o: IdentifiedArray,
                                          _ t: IdentifiedArray) -> Merged? {
        var clean = true

        // The array's own path precedes its elements' paths, so the order comes first.
        let isCommon = { (id: ElementID) in b.elements[id] != nil && o.elements[id] != nil && t.elements[id] != nil }
        let baseOrder = b.ids.filter(isCommon)
        let oursOrder = o.ids.filter(isCommon)
        let theirsOrder = t.ids.filter(isCommon)
        var order = oursOrder
        if oursOrder == baseOrder {
            order = theirsOrder
        } else if theirsOrder != baseOrder, theirsOrder != oursOrder {
            _ = conflict()
            clean = false
        }

        var merged: [ElementID: Merged] = [:]
        func visit(_ id: ElementID, _ ours: Value?, _ theirs: Value?, _ merger: inout Merger) {
            merger.path.append(.id(id))
            defer { merger.path.removeLast() }
            switch merger.resolve(b.elements[id], ours, theirs) {
            case .value(let value): merged[id] = value
            case .removed: break
            case .conflicted: clean = false
            }
        }
        for id in o.ids {
            visit(id, o.elements[id], t.elements[id], &self)
        }
        for id in t.ids where o.elements[id] == nil {
            visit(id, nil, t.elements[id], &self)
        }
        guard clean else { return nil }

        // Additions grouped by the common element they follow (nil: the front);
        // ours' come first, and an id both sides added is placed once, by ours.
        var additions: [ElementID?: [ElementID]] = [:]
        var placed: Set<ElementID> = []
        for side in [o, t] {
            var anchor: ElementID?
            for id in side.ids {
                if isCommon(id) {
                    anchor = id
                } else if b.elements[id] == nil, placed.insert(id).inserted {
                    additions[anchor, default: []].append(id)
                }
            }
        }
        var elements: [Merged] = []
        elements.reserveCapacity(merged.count)
        for id in additions[nil] ?? [] { elements.append(merged[id]!) }
        for id in order {
            elements.append(merged[id]!)
            for added in additions[id] ?? [] { elements.append(merged[added]!) }
        }
        return .array(elements)
    }

    /// `a.b[3][id="d2"]`; keys that are not plain identifiers as `["key"]`.
    private static func describe(_ path: [PathStep]) -> String {
        guard !path.isEmpty else { return "$" }
        var text = ""
        for step in path {
            switch step {
            case .key(let member):
                let name = member.key.text
                if isIdentifier(name) {
                    if !text.isEmpty { text += "." }
                    text += name
                } else {
                    text += "[\(JSONTree.quoted(name))]"
                }
            case .index(let n):
                text += "[\(n)]"
            case .id(let id):
                text += "[id=\(id.pathText)]"
            }
        }
        return text
    }

    private static func isIdentifier(_ key: String) -> Bool {
        guard let first = key.utf8.first, !(0x30 ... 0x39).contains(first) else { return false }
        return key.utf8.allSatisfy { byte in
            switch byte {
            case 0x41 ... 0x5A, 0x61 ... 0x7A, 0x30 ... 0x39, 0x5F: true // A-Z a-z 0-9 _
            default: false
            }
        }
    }
}
