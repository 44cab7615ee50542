/// Line differences between two canonical JSON texts, for the sample diffs
/// of `keep migrate plan`: common leading and trailing lines are dropped,
/// the middle is aligned by longest common subsequence when it is small
/// enough, and shown whole otherwise. Also `w:diff()` of working copies.
public enum ContentDiff {
    /// At most this many lines are returned; the last says how many more there were.
    static let lineLimit = 40
    /// Middles longer than this (in lines, either side) are not aligned.
    static let alignLimit = 2_000

    public static func lines(before: String, after: String) -> [String] {
        // Empty text has no lines (a working copy not saved yet is compared with nothing).
        let old = before.isEmpty ? [] : before.split(separator: "\n", omittingEmptySubsequences: false)
        let new = after.isEmpty ? [] : after.split(separator: "\n", omittingEmptySubsequences: false)
        var prefix = 0
        while prefix < old.count, prefix < new.count, old[prefix] == new[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < old.count - prefix, suffix < new.count - prefix,
              old[old.count - 1 - suffix] == new[new.count - 1 - suffix] { suffix += 1 }
        let oldMiddle = Array(old[prefix ..< old.count - suffix])
        let newMiddle = Array(new[prefix ..< new.count - suffix])
        var output: [String]
        if oldMiddle.count <= alignLimit, newMiddle.count <= alignLimit {
            output = aligned(oldMiddle, newMiddle)
        } else {
            output = oldMiddle.map { "-" + $0 } + newMiddle.map { "+" + $0 }
        }
        if output.count > lineLimit {
            let more = output.count - lineLimit
            output = Array(output.prefix(lineLimit)) + ["… \(more) more changed lines"]
        }
        return output
    }

    /// `-`/`+` lines of an LCS alignment (unchanged lines inside the middle are left out).
    private static func aligned(_ old: [Substring], _ new: [Substring]) -> [String] {
        let rows = old.count + 1, columns = new.count + 1
        var table = [Int32](repeating: 0, count: rows * columns)
        for i in stride(from: old.count - 1, through: 0, by: -1) {
            for j in stride(from: new.count - 1, through: 0, by: -1) {
                table[i * columns + j] = old[i] == new[j]
                    ? table[(i + 1) * columns + j + 1] + 1
                    : max(table[(i + 1) * columns + j], table[i * columns + j + 1])
            }
        }
        var output: [String] = []
        var i = 0, j = 0
        while i < old.count || j < new.count {
            if i < old.count, j < new.count, old[i] == new[j] {
                i += 1
                j += 1
            } else if i < old.count, j == new.count || table[(i + 1) * columns + j] >= table[i * columns + j + 1] {
                output.append("-" + old[i])
                i += 1
            } else {
                output.append("+" + new[j])
                j += 1
            }
        }
        return output
    }
}
