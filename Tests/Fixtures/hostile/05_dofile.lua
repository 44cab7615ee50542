-- expect: error: attempt to call a nil value (global 'dofile')
-- Escape: run any file.
dofile('/etc/passwd')
