-- expect: limit
-- Resource: swallow the budget error with pcall and go on.
while true do
  pcall(function() while true do end end)
end
