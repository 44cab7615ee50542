-- expect: error: attempt to index a boolean value
-- Leak (found in review): change how every Keep error prints, for later scripts.
local _, e = pcall(json.decode, '{')
getmetatable(e).__tostring = function() return 'forged' end
