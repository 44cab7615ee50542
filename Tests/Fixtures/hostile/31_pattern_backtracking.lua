-- expect: limit
-- Resource: exponential backtracking inside C (string.find).
local n = 40
print(string.find(string.rep('a', n), string.rep('a?', n) .. string.rep('a', n)))
