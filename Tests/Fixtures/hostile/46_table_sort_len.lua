-- expect: limit
-- Resource (found in review): table.sort over 2^31 virtual elements with C metamethods.
table.sort(setmetatable({}, { __len = function() return (1 << 31) - 2 end, __index = rawlen, __newindex = rawequal }))
