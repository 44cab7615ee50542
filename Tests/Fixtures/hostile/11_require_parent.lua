-- expect: error: require: module name '../x' is not allowed
-- Escape: require a file above the root.
require('../x')
