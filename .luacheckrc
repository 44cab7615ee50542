-- luacheck configuration for the Lua that Keep ships (scripts/test.sh runs it).
std = "lua54"
-- Globals Keep provides to every script.
read_globals = { "json", "keep" }
-- Sandbox-escape fixtures are hostile on purpose.
-- Type stubs (---@meta) declare, they do not run.
exclude_files = { "Tests/Fixtures/hostile/*.lua", ".build*/**", "scripts/types/*.lua" }
-- Policy tests get the test library's globals (keep policy test).
files["**/*_test.lua"] = { read_globals = { "describe", "it", "expect", "policy" } }
