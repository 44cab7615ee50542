-- expect: limit
-- Uncharged C function (audit 5): string.unpack walks an 8 MB format of padding.
local format = string.rep("x", 8000000)
local data = string.rep("d", 8000000)
while true do string.unpack(format, data) end
