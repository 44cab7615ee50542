-- expect: error: collectgarbage('stop') is not allowed
-- Resource: stop the collector so garbage piles up.
collectgarbage('stop')
