-- expect: limit
-- Resource (found in review): table.remove on a table that claims 2^50 elements.
table.remove(setmetatable({}, { __len = function() return 1 << 50 end }), 1)
