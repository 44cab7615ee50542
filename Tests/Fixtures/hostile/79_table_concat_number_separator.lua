-- expect: limit
-- Wrong argument slots (audit 5): with a number separator, concat(t, sep, i)
-- was charged one element instead of #t.
local t = {}
for i = 1, 200000 do t[i] = "a" end
while true do table.concat(t, 1, 1) end
