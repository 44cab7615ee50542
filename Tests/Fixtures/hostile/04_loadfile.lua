-- expect: error: attempt to call a nil value (global 'loadfile')
-- Escape: load code from any file.
loadfile('/etc/passwd')()
