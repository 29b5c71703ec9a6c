#!/usr/bin/env bash
# Step 1: /health and the Origin/Host guard (DNS-rebinding defence). See docs/step01-health-and-origin-guard.md.
source "$(dirname "$0")/lib.sh"
build_once

# expect_forbidden WHAT VALUE: the last answer is the guard's 403, a JSON-RPC error without `id`
# whose message names the rejected header and value.
expect_forbidden() {
  expect_status 403 "$1 $2 is refused"
  expect_header Content-Type '^application/json' "$1 $2: 403 body is JSON"
  expect_jq '.jsonrpc == "2.0" and .error.code == -32001 and (has("id") | not)' \
    "$1 $2: JSON-RPC error -32001 without id"
  expect_jq ".error.message | startswith(\"Forbidden: $1\") and contains(\"$2\")" \
    "$1 $2: message names the header and the value"
}

# expect_passed DESCRIPTION: the guard let the request through; step 1 has no /mcp route, so the
# router answers 404 with an empty body.
expect_passed() {
  expect_status 404 "$1 passes the guard (404: no /mcp in step 1)"
  expect_empty_body "$1: the 404 has an empty body"
}

section "listening line"
start_server step1
if [[ "$BASE" =~ ^http://127\.0\.0\.1:[0-9]+$ ]]; then pass "prints 'listening on http://127.0.0.1:PORT' ($BASE)"; else fail "bad listening line: $BASE"; fi

section "GET /health"
request GET /health
expect_status 200 "health answers"
expect_header Content-Type '^application/json$' "health is application/json"
expect_jq '.status == "healthy" and .step == 1' "health says status healthy, step 1"
expect_no_header Mcp-Session-Id "health issues no session"

section "/health: a probe (GET or HEAD) is answered whoever asks; only callers the guard accepts see details"
request GET /health -H 'Origin: http://evil.com'
expect_status 200 "health with a foreign Origin"
expect_jq '. == {"status":"healthy"}' "… says only {\"status\":\"healthy\"} to a foreign page (DNS rebinding learns nothing more)"
request GET /health -H 'Host: evil.com'
expect_status 200 "health with a foreign Host"
expect_jq '. == {"status":"healthy"}' "… says only {\"status\":\"healthy\"} to an unknown Host"
request GET /health -H 'Origin: null' -H 'Host: attacker.example:80'
expect_status 200 "health with Origin null and a foreign Host"
expect_jq '. == {"status":"healthy"}' "… and only that"
STATUS="$(curl -sS -I -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: evil.com' "$BASE/health")"
expect_status 200 "HEAD /health with a foreign Host"
request GET /health -H 'Origin: http://localhost:6274'
expect_jq '.status == "healthy" and .step == 1' "a loopback page sees the details (step)"
for method in POST PUT DELETE OPTIONS; do
  request "$method" /health -H 'Host: evil.com'
  expect_status 403 "$method /health with a foreign Host: refused by the guard like any other request"
done
request POST /health
expect_status 405 "POST /health from a loopback client: 405 (only GET and HEAD exist)"

section "step 1 has no MCP endpoint"
request POST /mcp -H 'Content-Type: application/json' --data-binary '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status 404 "POST /mcp"
expect_empty_body "POST /mcp 404 has an empty body"
request GET /mcp
expect_status 404 "GET /mcp"

section "Origin allowed"
request GET /mcp
expect_passed "no Origin"
for origin in 'http://localhost:6274' 'http://127.0.0.1:1' 'http://[::1]:3000' 'https://localhost'; do
  request GET /mcp -H "Origin: $origin"
  expect_passed "Origin $origin"
done

section "Origin refused"
request GET /mcp -H 'Origin: null'
expect_forbidden Origin null
expect_jq '.error.message | contains("opaque origin")' "null: the reason says opaque origin"
request GET /mcp -H 'Origin: http://localhost.evil.com'
expect_forbidden Origin 'http://localhost.evil.com'
expect_jq '.error.message | contains("not a loopback or allowed origin")' "look-alike: the reason says why"
request GET /mcp -H 'Origin: localhost:9000'
expect_forbidden Origin 'localhost:9000'
expect_jq '.error.message | contains("scheme must be http or https")' "malformed: the reason says why"
for origin in 'http://evil.com' 'http://127.0.0.1.nip.io' 'http://localhost@evil.com' 'http://localhost/path' 'file://localhost' 'https://app.example.com'; do
  request GET /mcp -H "Origin: $origin"
  expect_status 403 "Origin $origin is refused"
done
request POST /mcp -H 'Origin: http://localhost.evil.com' -H 'Content-Type: application/json' --data-binary '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status 403 "POST with a look-alike Origin is refused before routing"
expect_header Connection '^close$' "… with Connection: close (its body was not read)"

section "Origin: only the serialized form (RFC 6454 §6.2), and only one"
for origin in 'HTTP://LOCALHOST:9000' 'http:localhost' 'http://%6cocalhost' 'http://0x7f000001' 'http://127.1' 'http://2130706433' 'http://localhost:80' 'https://localhost:443'; do
  request GET /mcp -H "Origin: $origin"
  expect_status 403 "Origin $origin (parses as a URL; no browser sends it) is refused"
  expect_jq '.error.message | contains("rejected (not a serialized origin (RFC 6454 §6.2))") or contains("rejected (malformed origin)")' "… the reason says it is not a serialized origin"
  expect_no_header Access-Control-Allow-Origin "… and nothing is echoed"
done
raw_http "GET /mcp HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:6274\r\nOrigin: http://evil.com\r\nConnection: close\r\n\r\n"
expect_status 403 "two Origin headers (the first allowed): refused"
expect_jq '.error.message == "Forbidden: Origin \"(several)\" rejected (more than one Origin header)"' "… the reason says there are several"

section "Host"
for host in 'localhost:9000' '127.0.0.1' '[::1]:9000' 'LOCALHOST'; do
  request GET /mcp -H "Host: $host"
  expect_passed "Host $host"
done
request GET /mcp -H 'Host: evil.com'
expect_forbidden Host evil.com
expect_jq '.error.message | contains("not a loopback or allowed host")' "foreign Host: the reason says why"
request GET /mcp -H 'Host: localhost.evil.com:9000'
expect_forbidden Host 'localhost.evil.com:9000'
request GET /mcp -H 'Host: mcp.example.com' -H 'Origin: http://localhost:6274'
expect_status 403 "a loopback Origin does not excuse a foreign Host"

section "Host and the request target: strict authorities (RFC 3986 §3.2, RFC 9112 §3.2)"
for host in '[::1]evil.com' '[::1]]:80' 'localhost:+80' 'localhost:65536' 'local host' 'user@localhost' '[zz]:80'; do
  request GET /mcp -H "Host: $host"
  expect_status 400 "Host $host is not an authority: 400"
  expect_jq '.error.code == -32600 and (.error.message | startswith("Bad Request: Host ")) and (.error.message | endswith("(malformed authority)"))' "… JSON-RPC -32600, the reason says malformed authority"
  expect_header Connection '^close$' "… with Connection: close"
done
raw_http "GET /mcp HTTP/1.1\r\nHost: localhost\r\nHost: evil.com\r\nConnection: close\r\n\r\n"
expect_status 400 "two Host headers (the first loopback): 400"
expect_jq '.error.message == "Bad Request: Host \"(several)\" (more than one Host header)"' "… the reason says there are several"
raw_http "GET /mcp HTTP/1.1\r\nConnection: close\r\n\r\n"
expect_status 400 "no Host header at all: 400"
request GET /mcp --request-target 'http://evil.com/mcp' -H 'Host: localhost'
expect_status 403 "absolute-form target http://evil.com/mcp with a loopback Host: the target's authority counts"
expect_jq '.error.message | contains("request target \"evil.com\" rejected")' "… the reason names the request target"
request GET /mcp --request-target "http://localhost:9000/mcp"
expect_passed "absolute-form target http://localhost:9000/mcp"

section "allow-lists from flags"
start_server step1 --allow-origin https://app.example.com --allow-host mcp.example.com
request GET /mcp -H 'Origin: https://app.example.com'
expect_passed "--allow-origin https://app.example.com"
request GET /mcp -H 'Origin: https://app.example.com:443'
expect_status 403 "the same origin with its default port written out: not the serialized form, refused"
request GET /mcp -H 'Origin: http://app.example.com'
expect_forbidden Origin 'http://app.example.com'
request GET /mcp -H 'Origin: https://app.example.com.evil.com'
expect_forbidden Origin 'https://app.example.com.evil.com'
request GET /mcp -H 'Origin: http://localhost:6274'
expect_passed "loopback origins still pass with an allow-list"
request GET /mcp -H 'Host: mcp.example.com'
expect_passed "--allow-host mcp.example.com"
request GET /mcp -H 'Host: mcp.example.com:8443'
expect_passed "an allowed host on another port"
request GET /mcp -H 'Host: other.example.com'
expect_forbidden Host other.example.com

section "allow-lists from the environment"
ALLOWED_ORIGINS='https://a.example.com, https://b.example.com' ALLOWED_HOSTS='mcp.example.com:8443' start_server step1
request GET /mcp -H 'Origin: https://a.example.com'
expect_passed "ALLOWED_ORIGINS first entry"
request GET /mcp -H 'Origin: https://b.example.com'
expect_passed "ALLOWED_ORIGINS second entry (after a space)"
request GET /mcp -H 'Origin: https://c.example.com'
expect_forbidden Origin 'https://c.example.com'
request GET /mcp -H 'Host: mcp.example.com:8443'
expect_passed "ALLOWED_HOSTS host:port"
request GET /mcp -H 'Host: mcp.example.com:9999'
expect_forbidden Host 'mcp.example.com:9999'

section "bad configuration stops the program"
expect_exit 1 "MCP_SERVER_URL=notaurl" timeout 10 env MCP_SERVER_URL=notaurl "$BIN/step1" --port 0
expect_output 'MCP_SERVER_URL: "notaurl" is not valid' "the message names MCP_SERVER_URL and the value"
expect_exit 1 "--mcp-server-url ftp://x" timeout 10 "$BIN/step1" --port 0 --mcp-server-url ftp://x
expect_output 'MCP_SERVER_URL: "ftp://x" is not valid: the scheme must be http or https' "the message says the scheme is wrong"
expect_exit 1 "--allow-origin 'not an origin'" timeout 10 "$BIN/step1" --port 0 --allow-origin 'not an origin'
expect_output 'ALLOWED_ORIGINS / --allow-origin: "not an origin" is not valid' "the message names ALLOWED_ORIGINS"
expect_exit 1 "RUST_LOG=mcp_auth_steps=loud" timeout 10 env RUST_LOG=mcp_auth_steps=loud "$BIN/step1" --port 0
expect_output 'RUST_LOG: "mcp_auth_steps=loud" is not valid' "the message names RUST_LOG"
expect_exit 1 "RUST_LOG=???bad (a stray word, not a level)" timeout 10 env 'RUST_LOG=???bad' "$BIN/step1" --port 0
expect_output 'RUST_LOG: "\?\?\?bad" is not valid' "the message names RUST_LOG and the value"
expect_exit 1 "RUST_LOG=loud" timeout 10 env RUST_LOG=loud "$BIN/step1" --port 0
expect_exit 2 "an unknown flag is a usage error" timeout 10 "$BIN/step1" --no-such-flag
expect_output 'unexpected argument' "clap says which argument"

section "SIGTERM stops the server gracefully"
start_server step1
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
if [ "$rc" -eq 0 ]; then pass "exit status 0 after SIGTERM"; else fail "exit status $rc after SIGTERM"; fi
if grep -q 'stopped' "$SERVER_LOG"; then pass "the log says it stopped"; else fail "the log lacks 'stopped'"; fi

# slow PORT MODE ARGS...: scripts/slow_clients.py's one JSON line about what the server did.
slow() { python3 "$ROOT/scripts/slow_clients.py" "$@" >"$WORK/slow.json"; cat "$WORK/slow.json"; }

section "connection limits: slow headers, idle keep-alive, the connection cap (--header-timeout 2 --max-connections 2)"
start_server step1 --header-timeout 2 --max-connections 2
PORT="${BASE##*:}"
slow "$PORT" headers >/dev/null
expect_jq_file() { if jq -e "$1" "$WORK/slow.json" >/dev/null 2>&1; then pass "$2"; else fail "$2: $(cat "$WORK/slow.json")"; fi; }
expect_jq_file '.closed == true and .after_s >= 1.9 and .after_s <= 4 and .bytes == 0' "half the headers, then nothing: the connection is closed after the 2 s header timeout"
slow "$PORT" idle >/dev/null
expect_jq_file '.answered == "HTTP/1.1 200 OK" and .closed == true and .after_s >= 1.9 and .after_s <= 4' "an idle kept-alive connection is closed 2 s after its last answer"
python3 "$ROOT/scripts/slow_clients.py" "$PORT" hold 2 6 >/dev/null &
HOLD=$!
sleep 0.5
t0=$(date +%s.%N)
request GET /health
t1=$(date +%s.%N)
wait "$HOLD"
expect_status 200 "a third client while two idle connections fill --max-connections 2: answered"
waited="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
if awk -v w="$waited" 'BEGIN { exit !(w >= 1.0 && w <= 5) }'; then
  pass "… after waiting $waited s in the listen queue, until the header timeout freed a slot"
else fail "the third client waited $waited s (expected about 1.5 s: until a held connection timed out)"; fi
stop_server "$SERVER_PID"
expect_exit 2 "--header-timeout 0 is refused at start" "$BIN/step1" --port 0 --header-timeout 0
expect_output "invalid value '0' for '--header-timeout <HEADER_TIMEOUT>'" "the message names the flag"

finish
