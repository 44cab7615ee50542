-- The workbench renamed its map module: "MapView" is now "GeoMap". Module ids
-- carry the kind as a prefix ("MapView-0001"), so they follow; so do
-- snapshots, which people open long after the rename.
return {
  description = "rename module MapView to GeoMap (kind and id prefix)",
  target = "all",
  up = function(doc)
    for _, dashboard in ipairs(doc.data.dashboards or {}) do
      for _, module in ipairs(dashboard.modules or {}) do
        if module.kind == "MapView" then
          module.kind = "GeoMap"
          module.id = module.id:gsub("^MapView%-", "GeoMap-")
        end
      end
    end
  end,
}
