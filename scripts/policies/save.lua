--- How working copies save and poll (used by keep.workbench).
---@module "save"

return {
  autosave_debounce_ms = 200,
  poll_interval_ms = 10000,

  --- Poll the store only while the window is not hidden.
  ---@param activity "active"|"visible"|"hidden"
  poll_when = function(activity)
    return activity ~= "hidden"
  end,

  --- Called when the activity state changes.
  on_activity = function(state, info) -- luacheck: no unused args
  end,

  --- What to do when the stored version moved since the copy's base.
  ---@return "reject"|"overwrite"|"fork"|"merge"
  on_conflict = function(info) -- luacheck: no unused args
    return "reject"
  end,
}
