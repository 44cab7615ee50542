-- expect: error: refused: a bitwise operator in a function with more than 255 constants
-- Leak (Lua 5.4.4 bug 'Wrong code generation for constants in bitwise
-- operations'): with the constant table full, `1 ~ (a or 3)` reads a
-- register that was never set: a stale value of an earlier call.
local parts = { "local x = {" }
for i = 1, 257 do parts[#parts + 1] = i .. ".5," end
parts[#parts + 1] = "} local a = ... return 1 ~ (a or 3)"
assert(load(table.concat(parts), "=bitwise"))(2)
