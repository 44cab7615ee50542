-- expect: limit
-- Resource: recurse without end (not a tail call); memory runs out before the Lua stack does.
local function down(n) return 1 + down(n + 1) end
down(1)
