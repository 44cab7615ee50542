-- expect: limit
-- Budget escape (audit 1): catch the memory error with pcall and return normally.
local ok = pcall(function()
  local t = {}
  for i = 1, math.maxinteger do t[i] = string.rep("x", 1000) .. i end
end)
return ok, "finished normally"
