-- expect: limit
-- Budget escape (audit 1): the instruction trip inside a coroutine comes back
-- from coroutine.resume as false, err; the script ignores it and returns.
local co = coroutine.create(function() while true do end end)
local ok, err = coroutine.resume(co)
return ok, err, "finished normally"
