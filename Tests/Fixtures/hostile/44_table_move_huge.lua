-- expect: limit
-- Resource (found in review): table.move over 2^50 slots.
table.move({}, 1, 1 << 50, 2)
