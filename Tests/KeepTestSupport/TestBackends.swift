import Foundation
import KeepSQLite
import KeepStore

/// The backends store tests run against, each a fresh, empty database.
public enum BackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite

    public var description: String { rawValue }

    public func makeStorage() throws -> any BackendStorage {
        switch self {
        case .sqlite:
            try SQLiteBackend(path: TemporaryDirectory.make("keep-store").appendingPathComponent("keep.sqlite").path)
        }
    }
}

/// Fresh folders under the system's temporary directory.
public enum TemporaryDirectory {
    public static func make(_ prefix: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}

/// Files of this checkout that tests use as a user would: the shipped
/// policies, migrations and benchmark scripts under `scripts/`.
public enum Checkout {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static let scripts = root.appendingPathComponent("scripts")
    /// The shipped policy folder (SPEC §4's defaults as Lua).
    public static let policies = scripts.appendingPathComponent("policies")
    public static let fixtures = root.appendingPathComponent("Tests/Fixtures")
}
