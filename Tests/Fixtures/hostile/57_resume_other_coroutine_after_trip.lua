-- expect: limit
-- Budget escape (audit 1): after one coroutine tripped, keep running in another
-- thread that was never hooked.
local first = coroutine.create(function() while true do end end)
coroutine.resume(first)
local second = coroutine.wrap(function() local n = 0 while true do n = n + 1 end end)
pcall(second)
return "finished normally"
