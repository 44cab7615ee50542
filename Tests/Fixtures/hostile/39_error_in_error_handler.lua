-- expect: error: error in error handling
-- Odd error value: an error raised while handling an error.
local ok, e = xpcall(function() error('first') end, function() error('second') end)
error(e)
