-- expect: limit
-- Parser not budgeted (audit 4): functions of 30,000 labels each (Lua allows
-- 32,767 a function); each new label is checked against every label before
-- it, so compiling twenty such functions takes the parser about ten seconds.
local i = 0
local labels = string.rep("::L#:: do end ", 30000):gsub("#", function() i = i + 1 return i end)
local f = load(string.rep("do local function f() " .. labels .. " goto L1 end end ", 20))
return f ~= nil
