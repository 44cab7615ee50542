-- expect: limit
-- Resource: loop inside a coroutine.
coroutine.wrap(function() while true do end end)()
