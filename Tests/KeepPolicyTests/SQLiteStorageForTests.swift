import Foundation
import KeepSQLite
import KeepStore

enum SQLiteStorageForTests {
    static func make() throws -> any KeepStorage {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keep-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try SQLiteBackend(path: directory.appendingPathComponent("keep.sqlite").path)
    }
}
