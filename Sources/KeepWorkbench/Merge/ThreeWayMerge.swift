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
            do throws(JSONParseError) {
                trees.append(try JSONTree.parse(text))
            } catch {
                return .notJSON("\(name): \(error)")
            }
        }
        var merger = Merger()
        let merged = merger.merge(trees[0], trees[1], trees[2])
        guard let merged, merger.conflicts.isEmpty else { return .conflict(merger.conflicts) }
        return .merged(merged.serialized())
    }
}

/// One step of a conflict path.
private enum PathStep {
    case key(String)
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

/// The ids of an array whose elements are all objects with a unique string
/// or number "id", so elements can be matched by id instead of position.
private struct IdentifiedArray {
    var ids: [ElementID] = []
    var position: [ElementID: Int] = [:]

    init?(_ elements: [JSONTree]) {
        ids.reserveCapacity(elements.count)
        position.reserveCapacity(elements.count)
        for (n, element) in elements.enumerated() {
            guard case .object(let members) = element,
                  let id = members.first(where: { $0.key == "id" })?.value else { return nil }
            let elementID: ElementID
            switch id {
            case .string(let text): elementID = ElementID(isNumber: false, text: ExactString(text))
            case .number(let text): elementID = ElementID(isNumber: true, text: ExactString(text))
            default: return nil
            }
            guard position.updateValue(n, forKey: elementID) == nil else { return nil }
            ids.append(elementID)
        }
    }
}

/// How a member or element present on some of the three sides comes out.
private enum Resolution {
    case value(JSONTree)
    case removed
    case conflicted
}

private struct Merger {
    private(set) var conflicts: [String] = []
    private var path: [PathStep] = []

    /// The merged value, or nil when a conflict was recorded under this path.
    mutating func merge(_ base: JSONTree, _ ours: JSONTree, _ theirs: JSONTree) -> JSONTree? {
        if ours == theirs { return ours }
        if ours == base { return theirs }
        if theirs == base { return ours }
        switch (base, ours, theirs) {
        case let (.object(b), .object(o), .object(t)):
            return mergeObjects(b, o, t)
        case let (.array(b), .array(o), .array(t)):
            if let bIDs = IdentifiedArray(b), let oIDs = IdentifiedArray(o), let tIDs = IdentifiedArray(t) {
                return mergeIdentified((b, bIDs), (o, oIDs), (t, tIDs))
            }
            if b.count == o.count, o.count == t.count {
                return mergePositional(b, o, t)
            }
            return conflict()
        default:
            return conflict()
        }
    }

    private mutating func conflict() -> JSONTree? {
        conflicts.append(Merger.describe(path))
        return nil
    }

    /// The rules shared by object members and identified elements.
    private mutating func resolve(_ base: JSONTree?, _ ours: JSONTree?, _ theirs: JSONTree?) -> Resolution {
        switch (base, ours, theirs) {
        case let (base?, ours?, theirs?):
            return merge(base, ours, theirs).map(Resolution.value) ?? .conflicted
        case let (nil, ours?, theirs?):
            if ours == theirs { return .value(ours) }
            if case .object = ours, case .object = theirs {
                return merge(.object([]), ours, theirs).map(Resolution.value) ?? .conflicted
            }
            _ = conflict()
            return .conflicted
        case let (nil, ours?, nil):
            return .value(ours)
        case let (nil, nil, theirs?):
            return .value(theirs)
        case let (base?, kept?, nil), let (base?, nil, kept?):
            if kept == base { return .removed }
            _ = conflict()
            return .conflicted
        case (_, nil, nil):
            return .removed
        }
    }

    private mutating func mergeObjects(_ b: [JSONTree.Member], _ o: [JSONTree.Member],
                                       _ t: [JSONTree.Member]) -> JSONTree? {
        let bIndex = Merger.keyIndex(b)
        let oIndex = Merger.keyIndex(o)
        let tIndex = Merger.keyIndex(t)
        var merged: [JSONTree.Member] = []
        merged.reserveCapacity(o.count)
        var clean = true
        // Ours' order, then keys only theirs has: document order for the conflicts.
        func visit(_ key: String, _ ours: JSONTree?, _ theirs: JSONTree?, _ merger: inout Merger) {
            merger.path.append(.key(key))
            defer { merger.path.removeLast() }
            switch merger.resolve(bIndex[ExactString(key)].map { b[$0].value }, ours, theirs) {
            case .value(let value): merged.append(JSONTree.Member(key: key, value: value))
            case .removed: break
            case .conflicted: clean = false
            }
        }
        for member in o {
            visit(member.key, member.value, tIndex[ExactString(member.key)].map { t[$0].value }, &self)
        }
        for member in t where oIndex[ExactString(member.key)] == nil {
            visit(member.key, nil, member.value, &self)
        }
        return clean ? .object(merged) : nil
    }

    private static func keyIndex(_ members: [JSONTree.Member]) -> [ExactString: Int] {
        var index: [ExactString: Int] = [:]
        index.reserveCapacity(members.count)
        for (n, member) in members.enumerated() { index[ExactString(member.key)] = n }
        return index
    }

    private mutating func mergePositional(_ b: [JSONTree], _ o: [JSONTree], _ t: [JSONTree]) -> JSONTree? {
        var merged: [JSONTree] = []
        merged.reserveCapacity(o.count)
        var clean = true
        for n in o.indices {
            path.append(.index(n))
            if let value = merge(b[n], o[n], t[n]) { merged.append(value) } else { clean = false }
            path.removeLast()
        }
        return clean ? .array(merged) : nil
    }

    /// Matches elements by id. Common elements keep the order of the side that
    /// reordered them (a conflict if both did, differently); added elements go
    /// after their nearest preceding common neighbour on their side.
    private mutating func mergeIdentified(_ b: ([JSONTree], IdentifiedArray), _ o: ([JSONTree], IdentifiedArray),
                                          _ t: ([JSONTree], IdentifiedArray)) -> JSONTree? {
        let (bElements, bIDs) = b
        let (oElements, oIDs) = o
        let (tElements, tIDs) = t
        var clean = true

        // The array's own path precedes its elements' paths, so the order comes first.
        let isCommon = { (id: ElementID) in
            bIDs.position[id] != nil && oIDs.position[id] != nil && tIDs.position[id] != nil
        }
        let baseOrder = bIDs.ids.filter(isCommon)
        let oursOrder = oIDs.ids.filter(isCommon)
        let theirsOrder = tIDs.ids.filter(isCommon)
        var order = oursOrder
        if oursOrder == baseOrder {
            order = theirsOrder
        } else if theirsOrder != baseOrder, theirsOrder != oursOrder {
            _ = conflict()
            clean = false
        }

        var values: [ElementID: JSONTree] = [:]
        func visit(_ id: ElementID, _ ours: JSONTree?, _ theirs: JSONTree?, _ merger: inout Merger) {
            merger.path.append(.id(id))
            defer { merger.path.removeLast() }
            switch merger.resolve(bIDs.position[id].map { bElements[$0] }, ours, theirs) {
            case .value(let value): values[id] = value
            case .removed: break
            case .conflicted: clean = false
            }
        }
        for (n, id) in oIDs.ids.enumerated() {
            visit(id, oElements[n], tIDs.position[id].map { tElements[$0] }, &self)
        }
        for (n, id) in tIDs.ids.enumerated() where oIDs.position[id] == nil {
            visit(id, nil, tElements[n], &self)
        }
        guard clean else { return nil }

        // Additions grouped by the common element they follow (nil: the front);
        // ours' come first, and an id both sides added is placed once, by ours.
        var additions: [ElementID?: [ElementID]] = [:]
        var placed: Set<ElementID> = []
        for side in [oIDs, tIDs] {
            var anchor: ElementID?
            for id in side.ids {
                if isCommon(id) {
                    anchor = id
                } else if bIDs.position[id] == nil, placed.insert(id).inserted {
                    additions[anchor, default: []].append(id)
                }
            }
        }
        var merged: [JSONTree] = []
        merged.reserveCapacity(values.count)
        for id in additions[nil] ?? [] { merged.append(values[id]!) }
        for id in order {
            merged.append(values[id]!)
            for added in additions[id] ?? [] { merged.append(values[added]!) }
        }
        return .array(merged)
    }

    /// `a.b[3][id="d2"]`; keys that are not plain identifiers as `["key"]`.
    private static func describe(_ path: [PathStep]) -> String {
        guard !path.isEmpty else { return "$" }
        var text = ""
        for step in path {
            switch step {
            case .key(let key) where isIdentifier(key):
                if !text.isEmpty { text += "." }
                text += key
            case .key(let key):
                text += "[\(JSONTree.quoted(key))]"
            case .index(let n):
                text += "[\(n)]"
            case .id(let id):
                text += "[id=\(id.pathText)]"
            }
        }
        return text
    }

    private static func isIdentifier(_ key: String) -> Bool {
        guard let first = key.utf8.first, !(UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return key.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A") ... UInt8(ascii: "Z"), UInt8(ascii: "a") ... UInt8(ascii: "z"),
                 UInt8(ascii: "0") ... UInt8(ascii: "9"), UInt8(ascii: "_"): true
            default: false
            }
        }
    }
}
