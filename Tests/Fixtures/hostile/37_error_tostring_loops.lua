-- expect: limit
-- Odd error value: __tostring that loops.
error(setmetatable({}, { __tostring = function() while true do end end }))
