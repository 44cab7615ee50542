import KeepStore
import PostgresNIO

extension ListingPlan {
    /// The plan's SELECT for PostgreSQL, with the same semantics as SQLite's
    /// (the conformance suite checks both): title keys are `bytea` and ids
    /// `COLLATE "C"`, so both compare by bytes as in SQLite.
    var postgres: PostgresQuery {
        var bindings = PostgresBindings()
        let sql = sql(bind: { value in
            switch value {
            case .text(let text): bindings.append(text)
            case .titleKey(let key): bindings.append(key.bytes)
            case .integer(let number): bindings.append(number)
            case .bool(let flag): bindings.append(flag)
            }
            return "$\(bindings.count)"
        }, contains: { column, needle in "position(\(needle) IN \(column)) > 0" })
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }
}
