-- expect: limit
-- Budget escape (audit 1): the coroutine catches its own memory error and
-- returns normally; so does the main chunk.
local co = coroutine.create(function()
  pcall(function()
    local parts = {}
    for i = 1, math.maxinteger do parts[i] = string.rep("y", 4096) .. i end
  end)
  return "coroutine finished"
end)
return coroutine.resume(co)
