-- expect: error: attempt to load a binary chunk
-- Crash (Lua 5.4.4 bug 'Loading a corrupted binary file can segfault'):
-- Keep loads text only, in every state (trusted ones too).
local code = "\27LuaT\0\25\147\r\n\26\n\4\8\8\120\86\0\0\0\0\0\0\0\0\0\0\0\40\119\64\0\134\64"
assert(load(code, "=binary"))
