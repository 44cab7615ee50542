#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KeepCore

/// Finds and reads the source of `require(name)` for sandboxed scripts: only
/// `.lua` files below the root folders, by dotted names, with symlinks resolved
/// before the check so that no link leads outside a root.
struct ModuleReader: Sendable {
    let roots: [String]

    /// Host function body: (name) → source, chunkname | nil, message.
    /// Failures are returned, not raised, so that the prelude's `require`
    /// raises them at the script's own line.
    func read(_ stack: LuaStack) throws -> Int32 {
        do {
            return try find(stack)
        } catch let error as KeepError {
            stack.pushNil()
            stack.push(error.message)
            return 2
        }
    }

    private func find(_ stack: LuaStack) throws -> Int32 {
        let name = try stack.checkText(1)
        let components = name.split(separator: ".", omittingEmptySubsequences: false)
        let allowed = !name.isEmpty && name.utf8.count <= 200 && components.allSatisfy { component in
            !component.isEmpty && component.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
                    || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte == 0x2D
            }
        }
        guard allowed else {
            throw KeepError(.invalid, """
                require: module name '\(name)' is not allowed; use dotted names of letters, digits, \
                '_' and '-' (for example 'lib.util'), which resolve to .lua files below the script's root folder
                """)
        }
        let relative = components.joined(separator: "/")
        for root in roots {
            guard let realRoot = Self.realPath(root) else { continue }
            for candidate in [relative + ".lua", relative + "/init.lua"] {
                guard let real = Self.realPath(root + "/" + candidate) else { continue }
                guard real.hasPrefix(realRoot + "/") else {
                    throw KeepError(.invalid, "require: '\(name)' resolves outside the script root \(root)")
                }
                let source = try LuaFiles.read(real)
                stack.push(bytes: source)
                let rootName = root.split(separator: "/").last.map(String.init) ?? root
                stack.push("@\(rootName)/\(candidate)")
                return 2
            }
        }
        throw KeepError(.notFound, """
            require: module '\(name)' not found; looked for \(relative).lua and \(relative)/init.lua \
            below \(roots.isEmpty ? "(no root folder)" : roots.joined(separator: ", "))
            """)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Reading script files without Foundation (it would lengthen start-up).
public enum LuaFiles {
    /// The whole content of a file.
    public static func read(_ path: String) throws(KeepError) -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            throw KeepError(.notFound, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count > 0 { bytes.append(contentsOf: chunk[0 ..< count]) }
            if count < chunk.count {
                if ferror(file) != 0 {
                    throw KeepError(.unavailable, "cannot read \(path): \(String(cString: strerror(errno)))")
                }
                return bytes
            }
        }
    }
}
