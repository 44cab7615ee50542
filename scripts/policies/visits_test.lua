-- Tests of visits.lua.

describe("visits", function()
  local last = 1795761694123

  it("does not count a visit within 5 minutes of the last one", function()
    expect(policy.should_count({ last_visited_ms = last }, last + 299999)).to_be(false)
  end)

  it("counts a visit 5 minutes or more after the last one", function()
    expect(policy.should_count({ last_visited_ms = last }, last + 300000)).to_be(true)
  end)
end)
