-- Content version 4 groups what a module shows under settings.display: the
-- colour scale moves there, and the zoom that modules kept inside their
-- serialized state (a JSON string in a JSON document) is lifted out of it.
-- Sessions only: snapshots are kept as they were shared.
return {
  description = "content v4: settings.display holds colorScale and zoom",
  target = "sessions",
  up = function(doc)
    local data = doc.data
    if (data.version or 0) >= 4 then
      return -- already in the new format
    end
    for _, dashboard in ipairs(data.dashboards or {}) do
      for _, module in ipairs(dashboard.modules or {}) do
        local settings = module.settings or {}
        local display = { colorScale = settings.colorScale }
        settings.colorScale = nil
        if type(module.serializedState) == "string" then
          local state = json.decode(module.serializedState)
          display.zoom, state.zoom = state.zoom, nil
          module.serializedState = json.encode(state)
        end
        settings.display = display
        module.settings = settings
      end
    end
    data.version = 4
  end,
}
