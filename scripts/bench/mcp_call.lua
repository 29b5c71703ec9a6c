-- wrk script for scripts/bench.sh: authenticated `tools/call echo` on POST /mcp.
--
--   wrk -t2 -c16 -d10s -s scripts/bench/mcp_call.lua URL -- TOKEN_FILE THREADS [SHAPE]
--
-- SHAPE is "legacy" (the default: a 2025-11-25 request, no version header) or "modern" (a
-- 2026-07-28 request: MCP-Protocol-Version, Mcp-Method, Mcp-Name and params._meta).
-- TOKEN_FILE holds one token per line (or is "-" for no Authorization header, the baseline).
-- One line: every request carries that token (what MCP clients do). N lines: wrk thread k of
-- THREADS sends tokens k, k+THREADS, k+2*THREADS, ... in turn, so consecutive requests of the
-- whole run carry different tokens. Requests are formatted once, in init(), so that the load
-- generator spends its time on the socket rather than in Lua.
-- done() prints one machine-readable line: "BENCH {json}".

local legacy_body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}'
local modern_body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"},'
  .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},'
  .. '"io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"1"}}}}'
local body = legacy_body
local requests = {}
local next_index = 1
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads, shape = args[1], tonumber(args[2] or "1"), args[3] or "legacy"
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
  }
  if shape == "modern" then
    body = modern_body
    headers["MCP-Protocol-Version"] = "2026-07-28"
    headers["Mcp-Method"] = "tools/call"
    headers["Mcp-Name"] = "echo"
  else
    assert(shape == "legacy", "SHAPE must be legacy or modern, not " .. shape)
  end
  if file == nil or file == "-" then
    requests[1] = wrk.format("POST", "/mcp", headers, body)
    return
  end
  local tokens = {}
  for line in io.lines(file) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  assert(#tokens > 0, "no tokens in " .. file)
  local mine = {}
  if #tokens == 1 then
    mine[1] = tokens[1]
  else
    for i = thread_index + 1, #tokens, nthreads do mine[#mine + 1] = tokens[i] end
  end
  for i, token in ipairs(mine) do
    headers["Authorization"] = "Bearer " .. token
    requests[i] = wrk.format("POST", "/mcp", headers, body)
  end
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
