-- expect: limit
-- Wrong argument slots (audit 5): an extra argument made table.unpack's range
-- be read from slots 3 and 4, so 900,000 results were charged nothing.
local t = {}
while true do table.unpack(t, 1, 900000, "extra") end
