-- expect: limit
-- Resource (found in review): many coroutines, each too short to reach the hook.
while true do
  coroutine.wrap(function() for _ = 1, 990 do end end)()
end
