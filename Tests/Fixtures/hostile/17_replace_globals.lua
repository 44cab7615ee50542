-- expect: ok
-- Leak: replace globals and library functions for the next script.
string.rep = function() return 'pwned' end
print = nil
pairs = nil
_G.leaked = true
math.floor = nil
