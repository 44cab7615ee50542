-- expect: limit
-- Resource: a message handler that loops.
while true do
  xpcall(function() while true do end end, function() while true do end end)
end
