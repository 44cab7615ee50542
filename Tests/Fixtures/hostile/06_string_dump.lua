-- expect: error: attempt to call a nil value (field 'dump')
-- Escape: make a binary chunk to load later.
local code = string.dump(function() return 1 end)
load(code)()
