--- The visit rate limit: a visit within 5 minutes of the last counted one
--- does not count.
---@module "visits"

local INTERVAL_MS = 5 * 60 * 1000

return {
  ---@param log keep.PolicyAccessLog
  ---@param now integer milliseconds since the Unix epoch
  ---@return boolean
  should_count = function(log, now)
    return now - log.last_visited_ms >= INTERVAL_MS
  end,
}
