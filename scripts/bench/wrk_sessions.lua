-- wrk's script for the HTTP benchmarks (scripts/bench.sh http, http-large):
-- each request goes to the next session of a list (each thread starts at a
-- different place in it), with a bearer token and, for PUT, a JSON body read
-- from a file. At the end it prints one line for bench.sh to read:
--   wrk-result requests=N seconds=S p50_us=N p99_us=N non2xx=N errors=N
-- Usage: wrk ... -s scripts/bench/wrk_sessions.lua http://127.0.0.1:PORT \
--          -- METHOD PATH_PREFIX IDS_FILE TOKEN|- [BODY_FILE]
local threads = 0
function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local method, prefix, ids, headers, body, next_id

function init(args)
  method, prefix = args[1], args[2]
  ids = {}
  for line in io.lines(args[3]) do
    ids[#ids + 1] = line
  end
  assert(#ids > 0, "no session ids in " .. args[3])
  headers = {}
  if args[4] and args[4] ~= "-" then
    headers["Authorization"] = "Bearer " .. args[4]
  end
  if args[5] then
    local file = assert(io.open(args[5], "rb"))
    body = file:read("*a")
    file:close()
    headers["Content-Type"] = "application/json"
  end
  next_id = ((thread_index or 0) * math.floor(#ids / 2)) % #ids
end

function request()
  next_id = next_id % #ids + 1
  return wrk.format(method, prefix .. ids[next_id], headers, body)
end

function done(summary, latency)
  local errors = summary.errors
  io.write(string.format("wrk-result requests=%d seconds=%.3f p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
