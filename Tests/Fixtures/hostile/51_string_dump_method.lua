-- expect: error: attempt to call a nil value (method 'dump')
-- Escape (found in review): reach string.dump through the string metatable.
local code = (''):dump(function() end)
