-- expect: limit
-- Parser input (audit 4): load's reader function never returns.
load(function() while true do end end)
return "finished normally"
