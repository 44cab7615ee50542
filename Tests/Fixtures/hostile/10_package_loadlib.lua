-- expect: error: attempt to index a nil value (global 'package')
-- Escape: load a C library.
package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', 'system')('id')
