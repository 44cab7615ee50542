-- expect: error: require: module name '/etc/passwd' is not allowed
-- Escape: require an absolute path.
require('/etc/passwd')
