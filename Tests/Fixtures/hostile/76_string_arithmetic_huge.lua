-- expect: limit
-- Uncharged conversion (audit 5): arithmetic on a 20 MB numeric string.
local s = string.rep("0", 20000000)
while true do local _ = s + 0 end
