-- expect: error: table: 0x
-- Odd error value: a table without __tostring.
error({ 1, 2, 3 })
