-- expect: limit
-- Budget escape (audit 1): three nested coroutines, each ignoring the failed
-- resume of the one inside it.
local function level(n)
  return coroutine.create(function()
    if n == 0 then while true do end end
    local ok = coroutine.resume(level(n - 1))
    return ok
  end)
end
local ok = coroutine.resume(level(3))
return ok, "finished normally"
