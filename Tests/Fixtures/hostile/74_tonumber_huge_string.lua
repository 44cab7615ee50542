-- expect: limit
-- Uncharged C function (audit 5): tonumber scans 20 MB of leading spaces.
local s = string.rep(" ", 20000000)
while true do tonumber(s) end
