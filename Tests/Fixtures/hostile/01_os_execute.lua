-- expect: error: attempt to call a nil value (field 'execute')
-- Escape: run a shell command.
os.execute('touch /tmp/keep-pwned')
