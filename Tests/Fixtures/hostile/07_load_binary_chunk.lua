-- expect: error: attempt to load a binary chunk
-- Escape: a hand-made binary chunk (could corrupt the VM).
assert(load('\27LuaT\0\25\147\r\n\26\n\4\8\8xV'))
