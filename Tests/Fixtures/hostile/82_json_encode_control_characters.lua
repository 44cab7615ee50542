-- expect: limit
-- Memory (audit 6): each control character becomes six bytes of output; the
-- output buffer must count against the budget as it grows, even under pcall.
local s = string.rep("\1", 20 * 1024 * 1024)
local ok = pcall(json.encode, s)
return ok, "finished normally"
