#if canImport(Glibc)
import Glibc
#endif
import KeepCore
import KeepLua

/// Parsing of sizes and durations given on the command line.
enum Quantity {
    /// "1048576", "64KiB", "32MiB", "1GiB" (also KB/MB/GB/K/M/G as binary units).
    static func bytes(_ text: String) -> Int? {
        let units: [(String, Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
            ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30),
            ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1),
        ]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0,
                  value * Double(factor) < 0x1p62 else { return nil }  // finite, and fits an Int
            return Int(value * Double(factor))
        }
        return Int(text)
    }

    /// "500ms", "2s", "1.5s", "1m", "1h"; a bare number is seconds. Nil for
    /// anything else, negative, or beyond about 290 million years.
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var seconds = 1.0
        var number = Substring(text)
        for (suffix, unit) in units where text.hasSuffix(suffix) {
            seconds = unit
            number = text.dropLast(suffix.count)
            break
        }
        guard let value = Double(number), value >= 0, value * seconds * 1000 < 0x1p62 else { return nil }
        return .milliseconds(Int64(value * seconds * 1000))
    }

    static func readStandardInput() throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count <= 0 { return bytes }
            bytes.append(contentsOf: chunk[0 ..< count])
        }
    }
}

/// Reading script files.
enum ScriptFile {
    static func read(_ path: String) throws -> [UInt8] {
        try LuaFiles.read(path)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }
}
