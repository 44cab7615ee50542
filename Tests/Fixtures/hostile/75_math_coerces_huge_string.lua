-- expect: limit
-- Uncharged conversion (audit 5): math functions convert a 20 MB numeric string.
local s = string.rep("0", 20000000)
while true do math.abs(s) end
