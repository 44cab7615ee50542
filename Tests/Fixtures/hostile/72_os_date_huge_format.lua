-- expect: limit
-- Uncharged C function (audit 5): os.date formats 4 million conversions in one call.
local format = string.rep("%c", 4000000)
while true do os.date(format, 0) end
