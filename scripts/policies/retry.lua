--- Retry schedules of background jobs: the delay in milliseconds before the
--- next attempt, or nil to give up (the job goes `dead`).
---@module "retry"

local DELAYS_MS = { 1000, 2000, 4000 }

return {
  ---@param attempt integer the attempt that just failed (1 for the first)
  ---@param err string
  ---@return integer|nil
  default = function(attempt, err) -- luacheck: no unused args
    return DELAYS_MS[attempt]
  end,
}
