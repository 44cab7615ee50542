-- expect: limit
-- Resource: recurse without end (not a tail call), each frame holding a little
-- memory, so the memory budget runs out before the Lua stack does.
local function down(n)
  local held = string.rep("x", 300) .. n
  return #held + down(n + 1)
end
down(1)
