-- Tests of save.lua.

local save = require("save")

describe("save", function()
  it("debounces autosave by 200 ms and polls every 10 s", function()
    expect(save.autosave_debounce_ms).to_be(200)
    expect(save.poll_interval_ms).to_be(10000)
  end)

  it("polls only while the window is not hidden", function()
    expect(save.poll_when("active")).to_be(true)
    expect(save.poll_when("visible")).to_be(true)
    expect(save.poll_when("hidden")).to_be(false)
  end)

  it("journals unsaved edits at once when the user goes away", function()
    local info = { previous = "visible", open_copies = 1, unsaved_copies = 1 }
    expect(save.on_activity("hidden", info)).to_be("journal")
    expect(save.on_activity("active", info)).to_be(nil)
  end)

  it("rejects conflicting saves", function()
    expect(save.on_conflict({})).to_be("reject")
  end)
end)
