-- expect: error: attempt to index a boolean value
-- Escape (found in review): give the shared json.array metatable a looping __gc.
getmetatable(json.decode('[]')).__gc = function() while true do end end
json.array({})
collectgarbage()
