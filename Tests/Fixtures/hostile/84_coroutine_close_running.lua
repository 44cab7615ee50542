-- expect: error: cannot close a running coroutine
-- Keep's coroutine.close keeps lcorolib's checks.
local co
co = coroutine.create(function() return coroutine.close(co) end)
local ok, err = coroutine.resume(co)
error(err, 0)
