/// The page size rule of listings (SPEC §1, the reference store's rule):
/// missing → 20, above 100 → 100, below 1 → 20.
public enum PageSize {
    public static let `default` = 20
    public static let maximum = 100

    public static func resolve(_ requested: Int?) -> Int {
        guard let requested else { return `default` }
        if requested > maximum { return maximum }
        if requested < 1 { return `default` }
        return requested
    }
}
