-- expect: error: load accepts text chunks only
-- Escape: ask load for binary mode.
load('return 1', 'x', 'b')
