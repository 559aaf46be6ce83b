-- wrk script: replays pre-built requests (one per line: path TAB timestamp TAB signature TAB body,
-- and optionally TAB an API key for this request alone; a line without a body is a GET)
-- and prints a JSON summary that the benchmark reads.
-- Arguments: the requests file, then optionally an API key, sent as a bearer token on every /api/ request.
local requests = {}
local counter = 0

init = function(args)
  local key = args[2]
  for line in io.lines(args[1]) do
    local path, timestamp, signature, body, own_key = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    if not path then
      path, timestamp, signature, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    end
    local headers = {["Content-Type"] = "application/json"}
    local bearer = (own_key and own_key ~= "") and own_key or key
    if bearer and bearer ~= "" and path:find("^/api/") then
      headers["Authorization"] = "Bearer " .. bearer
    end
    if timestamp ~= "" then
      headers["telnyx-timestamp"] = timestamp
      headers["telnyx-signature-ed25519"] = signature
    end
    local method = body == "" and "GET" or "POST"
    table.insert(requests, wrk.format(method, path, headers, body ~= "" and body or nil))
  end
end

request = function()
  counter = counter + 1
  return requests[((counter - 1) % #requests) + 1]
end

done = function(summary, latency, requests_stats)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
