-- expect: limit
-- One instruction, much work (audit 5): comparing two 12 MB strings that
-- differ only in their last byte.
local a = string.rep("x", 12000000) .. "a"
local b = string.rep("x", 12000000) .. "b"
while a < b do end
