-- expect: limit
-- Uncharged C function (audit 5): the UTC form of the same.
local format = "!" .. string.rep("%Y", 4000000)
while true do os.date(format) end
