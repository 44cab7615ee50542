-- expect: error: attempt to index a boolean value
-- Escape: change the string metatable shared with every script.
getmetatable('').__index = { upper = function() return 'pwned' end }
