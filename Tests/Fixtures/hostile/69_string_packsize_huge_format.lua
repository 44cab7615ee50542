-- expect: limit
-- Uncharged C function (audit 5): string.packsize walks a 15 MB format.
local format = string.rep("i16", 5000000)
while true do string.packsize(format) end
