-- expect: limit
-- Resource (found in review): an empty string repeated 2^63 times loops in C without allocating.
string.rep('', math.maxinteger)
