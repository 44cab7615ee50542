-- expect: limit
-- Resource: loop forever.
while true do end
