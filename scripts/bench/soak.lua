-- wrk script for scripts/soak_step8.sh: cycles four kinds of tools/call request and checks every
-- answer.
--
--   wrk -t2 -c16 -d60s -s scripts/bench/soak.lua URL -- TOKEN_FILE
--
-- TOKEN_FILE has four lines: a valid token (alice: mcp:read mcp:tools), an expired one, one for
-- another audience, and one without mcp:tools (bob). Expected answers:
--   valid      200, JSON-RPC result for id "valid", isError false
--   expired    401, invalid_token "token expired"
--   audience   401, invalid_token "unexpected audience"
--   scope      403, JSON-RPC error -32003 for id "scope"
-- response() classifies each answer by what only that kind's answer contains and checks the
-- status; done() compares, per kind, answers received with requests sent (they may differ only
-- by the requests still in flight when the run stopped) and prints "SOAK {json}".

local kinds = {"valid", "expired", "audience", "scope"}
local requests = {}
local turn = 0
sent = {valid = 0, expired = 0, audience = 0, scope = 0}
got = {valid = 0, expired = 0, audience = 0, scope = 0}
unexpected = 0
server_errors = 0
first_unexpected = ""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function body(id)
  return '{"jsonrpc":"2.0","id":"' .. id .. '","method":"tools/call","params":{"name":"echo","arguments":{"message":"soak"}}}'
end

function init(args)
  local tokens = {}
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  assert(#tokens == 4, "need 4 tokens")
  for i, kind in ipairs(kinds) do
    requests[i] = wrk.format("POST", "/mcp", {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json, text/event-stream",
      ["Authorization"] = "Bearer " .. tokens[i],
    }, body(kind))
  end
end

function request()
  turn = turn % 4 + 1
  sent[kinds[turn]] = sent[kinds[turn]] + 1
  return requests[turn]
end

local function has(text, piece)
  return string.find(text, piece, 1, true) ~= nil
end

function response(status, headers, text)
  local kind, ok
  if has(text, '"id":"valid"') then
    kind, ok = "valid", status == 200 and has(text, '"isError":false') and has(text, '"text":"soak"')
  elseif has(text, '"id":"scope"') then
    kind, ok = "scope", status == 403 and has(text, '-32003')
  elseif has(text, 'token expired') then
    kind, ok = "expired", status == 401 and has(text, '"invalid_token"')
  elseif has(text, 'unexpected audience') then
    kind, ok = "audience", status == 401 and has(text, '"invalid_token"')
  end
  if status >= 500 then server_errors = server_errors + 1 end
  if kind ~= nil and ok then
    got[kind] = got[kind] + 1
  else
    unexpected = unexpected + 1
    if first_unexpected == "" then
      first_unexpected = status .. " " .. string.sub(text, 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local total_sent, total_got = {}, {}
  local bad, server, sample = 0, 0, ""
  for _, kind in ipairs(kinds) do total_sent[kind], total_got[kind] = 0, 0 end
  for _, thread in ipairs(threads) do
    local s, g = thread:get("sent"), thread:get("got")
    for _, kind in ipairs(kinds) do
      total_sent[kind] = total_sent[kind] + s[kind]
      total_got[kind] = total_got[kind] + g[kind]
    end
    bad = bad + thread:get("unexpected")
    server = server + thread:get("server_errors")
    if sample == "" then sample = thread:get("first_unexpected") end
  end
  local parts = {}
  for _, kind in ipairs(kinds) do
    parts[#parts + 1] = string.format('"%s":{"sent":%d,"answered_as_expected":%d}', kind, total_sent[kind], total_got[kind])
  end
  local e = summary.errors
  io.write(string.format(
    'SOAK {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"unexpected":%d,"status_5xx":%d,"socket_errors":%d,%s,"first_unexpected":"%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    bad, server, e.connect + e.read + e.write + e.timeout, table.concat(parts, ","),
    string.gsub(sample, '[%c"\\]', "?")))
end
