-- expect: limit
-- Resource: a comparator that loops, called from C's sort.
local t = { 3, 2, 1 }
table.sort(t, function() while true do end end)
