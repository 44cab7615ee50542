import Foundation

/// Runs the built `keep` binary (scripts/test.sh builds it before the tests).
struct KeepBinary {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let path: String = {
        // The test bundle sits beside the products in .build/<triple>/debug.
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return bundle.appendingPathComponent("keep").path
    }()

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("keep-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `keep arguments…` to completion.
    static func run(_ arguments: [String], stdin: String? = nil, directory: URL? = nil,
                    environment: [String: String]? = nil) throws -> Result {
        let process = try start(arguments, directory: directory, environment: environment)
        if let stdin {
            let input = process.standardInput as! Pipe
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        return try finish(process)
    }

    /// `environment` nil inherits the test's environment, acting as `tester`
    /// unless it names a user: Keep refuses to guess one (SPEC §1).
    static func start(_ arguments: [String], directory: URL? = nil, environment: [String: String]? = nil) throws -> Process {
        let process = Process()
        var inherited = ProcessInfo.processInfo.environment
        if (inherited["KEEP_USER"] ?? "").isEmpty { inherited["KEEP_USER"] = "tester" }
        process.environment = environment ?? inherited
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = Pipe()
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        return process
    }

    static func finish(_ process: Process) throws -> Result {
        let out = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        let err = (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                      stderr: String(decoding: err, as: UTF8.self))
    }
}
