-- expect: limit
-- Resource: a large concatenation built in C.
local t = {}
for i = 1, 2000000 do t[i] = 'xxxxxxxxxxxxxxxx' end
local s = table.concat(t)
