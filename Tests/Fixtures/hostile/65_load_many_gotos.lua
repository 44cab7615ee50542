-- expect: limit
-- Parser not budgeted (audit 4): 600,000 forward gotos to as many labels; each
-- label scans every pending goto, so the compilation alone takes many seconds.
local n = 600000
local gotos = string.rep("goto L# ", n)
local labels = string.rep("::L#:: ", n)
local i = 0
gotos = gotos:gsub("#", function() i = i + 1 return i end)
i = 0
labels = labels:gsub("#", function() i = i + 1 return i end)
local f = load("do " .. gotos .. labels .. " end")
return f ~= nil
