-- expect: limit
-- Resource: quadratic-per-position backtracking in gsub on a long subject.
local s = string.rep('a', 200000)
print(s:gsub('a-a-a-a-b', 'x'))
