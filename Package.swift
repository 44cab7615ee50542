// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Keep",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "keep", targets: ["KeepCLI"]),
        .library(name: "KeepLua", targets: ["KeepLua"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // 3.x or 4.x: jwt-kit (the server's JWTs) needs 4.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3" ..< "5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // /metrics: a Prometheus registry per server (SPEC §8).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Lua 5.4 from the system (Debian: liblua5.4-dev). Module map only.
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"])]
        ),
        // What Swift cannot do itself: macro and variadic forwards, the error
        // trampoline, the count hook, the budgeted allocator, bounded pattern matching.
        .target(name: "CLuaShim", dependencies: ["CLua"]),
        // What every layer shares: the error type and the domain's values.
        .target(name: "KeepCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // JSON as Keep reads and writes it, for the Lua bridge and the merge alike:
        // the parser, key order, escaping, number formatting, layouts, the canonical check.
        .target(name: "KeepJSON"),
        // The domain's rules over a backend-agnostic storage interface.
        .target(name: "KeepStore", dependencies: ["KeepCore", .product(name: "Crypto", package: "swift-crypto")]),
        // The embedded SQLite backend (GRDB).
        .target(name: "KeepSQLite", dependencies: ["KeepStore", .product(name: "GRDB", package: "GRDB.swift")]),
        // The PostgreSQL backend (PostgresNIO): the same storage protocols over a
        // connection pool, for several hosts sharing one database.
        .target(name: "KeepPostgres", dependencies: [
            "KeepStore", "KeepCore", .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
        ]),
        // The safe Swift bridge over Lua: states, host functions and objects,
        // the sandbox, budgets, the JSON library.
        // Its Lua (Lua/*.lua) is compiled into the binary; see docs/lua-bridge.md.
        .target(name: "KeepLua", dependencies: ["KeepJSON", "KeepCore", "CLua", "CLuaShim"], exclude: ["Lua"]),
        // Policies in Lua (SPEC §4): validation, retry schedules, visit limits, save settings.
        .target(name: "KeepPolicy", dependencies: ["KeepLua", "KeepCore"], exclude: ["Lua"]),
        // The `keep` table scripts use (SPEC §3), over the store.
        .target(name: "KeepScripting", dependencies: ["KeepRuntime", "KeepLua", "KeepStore", "KeepWorkbench", "KeepPolicy", "KeepMigrate", "KeepCore"]),
        // Working copies of sessions (SPEC §5): autosave to a local recovery
        // journal, the save lock, polling, conflicts, the activity observer.
        .target(name: "KeepWorkbench", dependencies: ["KeepJSON", "KeepStore", "KeepCore"]),
        // The composition root: opens the backend `--db` names, loads and watches
        // the policies, builds the services; shared by every command.
        .target(name: "KeepRuntime", dependencies: ["KeepPolicy", "KeepSQLite", "KeepPostgres", "KeepStore", "KeepCore"]),
        // Content migrations in Lua (SPEC §7): files, ledger status, the runner.
        .target(name: "KeepMigrate", dependencies: ["KeepJSON", "KeepLua", "KeepStore", "KeepCore"]),
        // libedit for the REPL's line editing (Debian: libedit-dev). Module map and
        // forwards of its variadic functions only.
        .systemLibrary(
            name: "CEditLine",
            pkgConfig: "libedit",
            providers: [.apt(["libedit-dev"])]
        ),
        // The interactive Lua shell (SPEC §6 "The REPL"): evaluation with locals
        // that persist between lines, pretty-printing, completion, line editing.
        .target(name: "KeepREPL", dependencies: ["KeepLua", "KeepCore", "CEditLine"]),
        // The HTTP service (SPEC §8, `keep serve`): the reference system's
        // persistence routes over the same services, authentication, health.
        .target(name: "KeepServer", dependencies: [
            "KeepRuntime", "KeepPolicy", "KeepStore", "KeepJSON", "KeepCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The `keep` command.
        .executableTarget(
            name: "KeepCLI",
            dependencies: [
                "KeepREPL",
                "KeepRuntime",
                "KeepServer",
                "KeepLua",
                "KeepScripting",
                "KeepWorkbench",
                "KeepMigrate",
                "KeepPolicy",
                "KeepSQLite",
                "KeepPostgres",
                "KeepStore",
                "KeepCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Release-mode benchmarks run by scripts/bench.sh, and their C anchors.
        .target(name: "CLuaBench", dependencies: ["CLua", "CLuaShim"]),
        .executableTarget(name: "KeepBench", dependencies: [
            "KeepLua", "KeepStore", "KeepSQLite", "KeepPolicy", "KeepMigrate", "KeepWorkbench", "KeepCore", "CLua", "CLuaShim",
            "CLuaBench",
        ]),
        // The PostgreSQL benchmark's driver anchor: Keep's one-row statements through PostgresNIO alone.
        .executableTarget(name: "PostgresNIOAlone", dependencies: [.product(name: "PostgresNIO", package: "postgres-nio"),
                                                                   .product(name: "Logging", package: "swift-log")]),
        // The HTTP benchmark's ceiling: a bare Hummingbird route answering a constant.
        .executableTarget(name: "HTTPCeiling", dependencies: [.product(name: "Hummingbird", package: "hummingbird")]),
        // What the test targets share: clocks, temporary stores, the checkout's files, seeded randomness.
        .target(name: "KeepTestSupport", dependencies: ["KeepSQLite", "KeepPostgres", "KeepStore", "KeepCore"], path: "Tests/KeepTestSupport"),
        .testTarget(name: "KeepCoreTests", dependencies: ["KeepCore"]),
        .testTarget(name: "KeepJSONTests", dependencies: ["KeepJSON", "KeepTestSupport"]),
        .testTarget(name: "KeepPolicyTests", dependencies: ["KeepTestSupport", "KeepPolicy", "KeepStore", "KeepSQLite", "KeepCore"]),
        .testTarget(name: "KeepStoreTests", dependencies: ["KeepTestSupport", "KeepStore", "KeepSQLite", "KeepPostgres", "KeepPolicy", "KeepCore",
                                                         .product(name: "PostgresNIO", package: "postgres-nio")]),
        .testTarget(name: "KeepWorkbenchTests", dependencies: ["KeepTestSupport", "KeepWorkbench", "KeepJSON", "KeepPolicy", "KeepStore", "KeepSQLite", "KeepCore"]),
        .testTarget(name: "KeepSQLiteTests", dependencies: ["KeepTestSupport", "KeepSQLite", "KeepStore", "KeepCore",
                                                          .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "KeepMigrateTests", dependencies: ["KeepTestSupport", "KeepMigrate", "KeepStore", "KeepSQLite", "KeepPostgres", "KeepCore"]),
        .testTarget(name: "KeepScriptingTests", dependencies: ["KeepTestSupport", "KeepScripting", "KeepRuntime", "KeepLua", "KeepCore"]),
        .testTarget(name: "KeepLuaTests", dependencies: ["KeepLua", "KeepJSON", "KeepCore", "CLua", "CLuaShim"]),
        // GRDB: a second connection that holds the write lock while the binary reads.
        .testTarget(name: "KeepCLITests", dependencies: ["KeepTestSupport", "KeepLua", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "KeepServerTests", dependencies: [
            "KeepTestSupport", "KeepServer", "KeepRuntime", "KeepStore", "KeepCore",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "JWTKit", package: "jwt-kit"),
        ]),
        .testTarget(name: "KeepREPLTests", dependencies: ["KeepREPL", "KeepLua", "KeepCore"]),
    ]
)
