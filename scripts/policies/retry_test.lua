-- Tests of retry.lua.

describe("retry", function()
  it("waits 1 s, 2 s, 4 s, then gives up", function()
    expect(policy.retry("mark_logs_deleted", 1)).to_be(1000)
    expect(policy.retry("mark_logs_deleted", 2)).to_be(2000)
    expect(policy.retry("mark_logs_deleted", 3)).to_be(4000)
    expect(policy.retry("mark_logs_deleted", 4)).to_be_nil()
  end)

  it("uses the default schedule for other kinds", function()
    expect(policy.retry("record_visit", 1)).to_be(1000)
  end)
end)
