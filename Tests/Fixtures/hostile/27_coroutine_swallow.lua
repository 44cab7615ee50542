-- expect: limit
-- Resource: catch the budget error with coroutine.resume and go on.
while true do
  coroutine.resume(coroutine.create(function() while true do end end))
end
