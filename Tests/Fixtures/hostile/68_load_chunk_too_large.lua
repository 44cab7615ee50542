-- expect: error: chunks are limited to 16 MiB
-- Parser input (audit 4): a chunk larger than the cap is refused before it is
-- compiled (here from a reader function giving 1 MiB at a time).
local piece = string.rep(" ", 1024 * 1024)
assert(load(function() return piece end, "=big"))
