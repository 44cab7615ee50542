-- expect: error: attempt to index a nil value (global 'io')
-- Escape: code loaded at run time must not see the real globals.
local f = load('return io.open("/etc/passwd")')
f()
