-- expect: limit
-- Resource: one huge string.
local s = string.rep('x', 2 ^ 30)
print(#s)
