-- expect: error: x: y
-- Crash (found in review): __tostring that rehashes the details table while it is read.
local d = {}
local evil = setmetatable({}, { __tostring = function()
  for k in pairs(d) do d[k] = nil end
  for i = 1, 200 do d['z' .. i] = i end
  return 'x'
end })
for i = 1, 8 do d['k' .. i] = evil end
error({ code = 'x', message = 'y', details = d })
