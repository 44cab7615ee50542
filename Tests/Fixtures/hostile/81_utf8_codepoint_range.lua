-- expect: limit
-- Undercharged (audit 5): utf8.codepoint decodes 900,000 characters per call.
local s = string.rep("u", 900000)
while true do utf8.codepoint(s, 1, -1) end
