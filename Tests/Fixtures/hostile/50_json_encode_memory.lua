-- expect: limit
-- Resource (found in review): json.encode output far larger than the memory budget.
local s = ('x'):rep(1 << 20)
local t = {}
for i = 1, 1000 do t[i] = s end
json.encode(t)
