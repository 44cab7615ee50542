-- expect: limit
-- Parser not budgeted (audit 4): 60 nested functions of 190 locals each;
-- every global name in the innermost body is looked up through all of them.
local names = {}
for i = 1, 190 do names[i] = "v" .. i end
local locals = "local " .. table.concat(names, ",") .. " "
local head = string.rep("return function() " .. locals, 60)
local body = string.rep("g = g ", 200000)
local tail = string.rep(" end", 60)
local f = load(head .. body .. tail)
return f ~= nil
