-- expect: limit
-- Memory (audit 6): many strings of escapes; the output outgrows the budget.
local t = {}
local piece = string.rep('"', 1000)
for i = 1, 40000 do t[i] = piece end
local ok = pcall(json.encode, t, { canonical = true })
return ok, "finished normally"
