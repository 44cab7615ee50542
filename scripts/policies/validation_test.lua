-- Tests of validation.lua (run: keep policy test scripts/policies).

describe("validation", function()
  it("accepts the largest content", function()
    expect(policy.validate { title = "ok", content = ("x"):rep(1572864) }).to_be_nil()
  end)

  it("rejects one byte more as too large, in bytes when MiB cannot tell", function()
    local rejection = policy.validate { title = "ok", content = ("x"):rep(1572865) }
    expect(rejection.code).to_be("too_large")
    expect(rejection.message).to_be("content is 1572865 bytes; the limit is 1572864 bytes (1.50 MiB)")
  end)

  it("gives sizes in MiB when they differ", function()
    expect(policy.validate { title = "ok", content = ("x"):rep(2422210) }.message)
      .to_be("content is 2.31 MiB; the limit is 1.50 MiB")
  end)

  it("counts title characters after trimming", function()
    expect(policy.validate { title = "  " .. ("é"):rep(50) .. "  " }).to_be_nil()
    expect(policy.validate { title = ("a"):rep(51) }.message).to_be("title is 51 characters; the limit is 50")
    expect(policy.validate { title = "   " }.message).to_be("title is empty; give 1 to 50 characters")
  end)

  it("limits descriptions to 250 characters", function()
    expect(policy.validate { title = "t", description = ("d"):rep(250) }).to_be_nil()
    expect(policy.validate { title = "t", description = ("d"):rep(251) }.message)
      .to_be("description is 251 characters; the limit is 250")
  end)

  it("reports every broken rule at once", function()
    local rejection = policy.validate { title = "", description = ("d"):rep(251) }
    expect(rejection.code).to_be("invalid")
    expect(rejection.message).to_contain("description is 251 characters")
    expect(rejection.message).to_contain("title is empty")
  end)
end)
