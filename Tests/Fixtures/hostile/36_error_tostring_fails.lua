-- expect: error: __tostring failed
-- Odd error value: __tostring that raises.
error(setmetatable({}, { __tostring = function() error('nested failure') end }))
