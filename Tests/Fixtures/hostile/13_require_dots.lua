-- expect: error: is not allowed
-- Escape: an empty path component walks up.
require('..x')
