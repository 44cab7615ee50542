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

  --- Called when the activity state changes; may return "save", "poll",
  --- "journal" or a list of them. Going hidden journals unsaved edits at once.
  ---@param state "active"|"visible"|"hidden"
  ---@param info {previous: string, open_copies: integer, unsaved_copies: integer}
  on_activity = function(state, info) -- luacheck: no unused args
    if state == "hidden" then return "journal" end
  end,

  --- What to do when the stored version moved since the copy's base. For
  --- "merge", a second result says what overlapping edits get (default "reject").
  ---@return "reject"|"overwrite"|"fork"|"merge", ("reject"|"overwrite"|"fork")?
  on_conflict = function(info) -- luacheck: no unused args
    return "reject"
  end,
}
