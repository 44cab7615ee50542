-- expect: limit
-- Resource (found in review): one instruction doing O(heap) work, repeated.
local s = ('a'):rep(14 << 20)
while true do utf8.len(s) end
