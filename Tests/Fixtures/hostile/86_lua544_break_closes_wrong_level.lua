-- expect: error: refused: a 'break' out of a generic 'for'
-- Crash (Lua 5.4.4 bug 'break' may not properly close variable in a 'for'
-- loop): the break closes from the wrong level, leaving the loop's closing
-- value in the to-be-closed list; the next to-be-closed variable writes out
-- of bounds.
local source = [[
local t = setmetatable({}, { __close = function() end })
for _ = 1, 2 do
  for k in next, {}, nil, t do local f = function() return k end break end
end
local x <close> = t
]]
assert(load(source, "=loop"))()
