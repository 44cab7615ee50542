-- expect: error: attempt to index a nil value (global 'debug')
-- Escape: the debug library reads upvalues and the registry.
local registry = debug.getregistry()
