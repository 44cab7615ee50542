-- expect: error: __gc metamethods are not allowed
-- Resource: a finalizer that loops (hooks do not run in finalizers).
setmetatable({}, { __gc = function() while true do end end })
collectgarbage()
