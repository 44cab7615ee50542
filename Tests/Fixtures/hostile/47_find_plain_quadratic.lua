-- expect: limit
-- Resource (found in review): a plain find that is O(n*m).
local s = ('a'):rep(1 << 23)
local p = ('a'):rep(1 << 22) .. 'b'
s:find(p, 1, true)
