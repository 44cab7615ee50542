-- expect: limit
-- Resource: a replacement function that loops.
string.gsub('aaa', 'a', function() while true do end end)
