-- expect: limit
-- Uncharged C function (audit 5): string.pack with an 8 MB format of padding.
local format = string.rep("x", 8000000)
while true do string.pack(format) end
