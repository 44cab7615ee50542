import KeepLua
@testable import KeepREPL

/// A trusted state with a small stand-in for the `keep` table and a host
/// object class, and an evaluator over it. Not interruptible: the interrupt
/// request is process-wide and tests run in parallel (the REPL's Ctrl-C is
/// tested on the built binary, in KeepCLITests).
func makeEvaluator(trust: LuaTrust = .trusted) throws -> ReplEvaluator {
    let state = try LuaState(trust: trust)
    let stack = state.stack
    stack.newTable()
    stack.push("ana")
    stack.setField("user", of: -2)
    for name in ["sessions", "snapshots"] {
        stack.newTable()
        stack.setField(name, of: -2)
    }
    stack.setGlobal("keep")
    let item = Item(title: "Q3 review")
    state.stack.push(item, as: Item.hostClass)
    state.stack.setGlobal("item")
    return try ReplEvaluator(state: state, budget: .unlimited)
}

/// A host object, as sessions are.
final class Item {
    let title: String
    init(title: String) { self.title = title }

    nonisolated(unsafe) static let hostClass: LuaHostClass<Item> = {
        let hostClass = LuaHostClass<Item>(name: "Item") { "Item<\"\($0.title)\">" }
        hostClass.property("title") { item, stack in stack.push(item.title) }
        hostClass.method("data") { _, stack in stack.newTable(); return 1 }
        hostClass.method("delete") { _, _ in 0 }
        return hostClass
    }()
}

extension ReplEvaluator {
    /// The printed values of `source`, or a description of what happened instead.
    func show(_ source: String) -> String {
        switch evaluate(source) {
        case .incomplete: return "<incomplete>"
        case .values(let values): return values.joined(separator: "\t")
        case .failure(let failure): return "<error> " + failure.text
        }
    }
}
