// Benchmarks, each next to its anchor measured in the same run; scripts/bench.sh
// runs this in release mode and prints the tables.
print("## Lua bridge\n")
try bridgeBenchmarks()
print("\n## Store\n")
try await storeBenchmarks()
print("\n## Policies\n")
try policyBenchmarks()
print("\n## Working copies\n")
try workbenchBenchmarks()
