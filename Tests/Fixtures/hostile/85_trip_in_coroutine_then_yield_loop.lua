-- expect: limit
-- Budget escape (audit 1): a coroutine catches the trip with pcall and tries
-- to yield back to a resumer that loops on resume.
local co = coroutine.wrap(function()
  while true do
    pcall(function() while true do end end)
    coroutine.yield()
  end
end)
while true do pcall(co) end
