import GRDB
import KeepStore

extension ListingPlan {
    /// The plan's SELECT for SQLite, with its arguments. Title keys are TEXT
    /// compared BINARY, by bytes.
    var sqlite: (sql: String, arguments: StatementArguments) {
        var arguments = StatementArguments()
        let sql = sql(bind: { value in
            switch value {
            case .text(let text), .titleKey(let text): arguments += [text]
            case .integer(let number): arguments += [number]
            case .bool(let flag): arguments += [flag]
            }
            return "?"
        }, contains: { column, needle in "instr(\(column), \(needle)) > 0" })
        return (sql, arguments)
    }
}
