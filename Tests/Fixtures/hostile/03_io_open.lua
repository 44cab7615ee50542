-- expect: error: attempt to index a nil value (global 'io')
-- Escape: read a file.
local f = io.open('/etc/passwd')
print(f:read('a'))
