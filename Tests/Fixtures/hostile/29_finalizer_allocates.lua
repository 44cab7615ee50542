-- expect: error: __gc metamethods are not allowed
-- Resource: a finalizer that allocates and resurrects itself.
local keep = {}
setmetatable({}, { __gc = function(o) keep[#keep + 1] = string.rep('x', 1e6); setmetatable({}, getmetatable(o)) end })
collectgarbage()
