-- luacheck configuration for the Lua that Keep ships (scripts/test.sh runs it).
std = "lua54"
-- Globals Keep provides to every script.
read_globals = { "json", "keep" }
-- Sandbox-escape fixtures are hostile on purpose.
-- Type stubs (---@meta) declare, they do not run.
exclude_files = { "Tests/Fixtures/hostile/*.lua", ".build*/**", "scripts/types/*.lua" }
-- Policy tests get the test library's globals (keep policy test).
files["**/*_test.lua"] = { read_globals = { "describe", "it", "expect", "policy" } }
-- Keep's own preludes (embedded in the binary; see docs/lua-bridge.md): they
-- replace standard functions on purpose.
files["Sources/KeepLua/Lua/sandbox_prelude.lua"] = { globals = { string = { fields = { "dump" } } } }
files["Sources/KeepLua/Lua/trusted_prelude.lua"] = { globals = { "loadfile", "dofile" } }
-- wrk's script API: the hooks it calls, the wrk table and a thread's variables.
files["scripts/bench/wrk_sessions.lua"] = {
  globals = { "setup", "init", "request", "done" },
  read_globals = { "wrk", "thread_index" },
}
