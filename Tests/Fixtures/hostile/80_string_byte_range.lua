-- expect: limit
-- Undercharged (audit 5): string.byte pushes 900,000 values per call.
local s = string.rep("b", 900000)
while true do string.byte(s, 1, -1) end
