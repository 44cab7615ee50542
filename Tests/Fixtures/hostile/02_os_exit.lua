-- expect: error: attempt to call a nil value (field 'exit')
-- Escape: end the host process.
os.exit(3)
