#!/usr/bin/env bash
# Step 6: bearer tokens on /mcp (RFC 6750). A valid token reaches whoami; the bad-token corpus
# (scripts/token_corpus.sh) gets exact statuses, challenges and bodies; no token leaks into logs.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/token_corpus.sh
source "$(dirname "$0")/token_corpus.sh"
build_once

start_server step6

section "public routes stay public"
request GET /health
expect_status 200 "/health without a token"
expect_jq '.status == "healthy" and .step == 6 and .auth_required == true' "/health says auth_required: true"
request GET /.well-known/jwks.json
expect_status 200 "JWKS without a token"
expect_jq '.keys[0].kty == "RSA"' "JWKS serves the key"
request GET /.well-known/oauth-protected-resource/mcp
expect_status 404 "no protected resource metadata yet (step 7)"

section "a refusal before the body is read closes the connection"
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status 401 "POST /mcp with a body and no token"
expect_header Connection '^close$' "… carries Connection: close (the body was not read)"
request POST /mcp -H 'Content-Type: application/json' -H 'Authorization: Bearer not-a-jwt' --data-binary '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status 401 "a body and a malformed token"
expect_header Connection '^close$' "… carries Connection: close"
request GET /mcp
expect_status 401 "GET /mcp without a body and without a token"
expect_no_header Connection "… keeps the connection (nothing was left unread)"

section "a valid token reaches the handlers"
ALICE="$(gen --username alice)"
remember alice "$ALICE"
ALICE_SUB="$(jwt_part "$ALICE" 1 | jq -r .sub)"
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
  -H "Authorization: Bearer $ALICE"
expect_status 200 "initialize with alice's token"
expect_jq '.id == 1 and .result.protocolVersion == "2025-11-25"' "initialize result"
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' -H "Authorization: Bearer $ALICE"
expect_status 200 "tools/list with a token"
expect_jq '[.result.tools[].name] == ["echo","whoami"]' "tools/list has echo and whoami"
expect_jq '.result.tools[] | select(.name == "whoami") | (.description | length) > 0 and .inputSchema.type == "object"' \
  "whoami has a description and an object inputSchema"
rpc '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami"}}' -H "Authorization: Bearer $ALICE"
expect_status 200 "tools/call whoami"
expect_jq '.id == 3 and .result.isError == false' "whoami succeeds"
expect_jq '.result.content[0].type == "text" and (.result.content[0].text | test("alice"))' "whoami text names alice"
expect_jq '.result.structuredContent.username == "alice"' "structuredContent.username == alice"
expect_jq '.result.structuredContent.scopes == ["mcp:read","mcp:tools"]' "structuredContent.scopes is an array of the token's scopes"
expect_jq '.result.structuredContent.roles == ["user"]' "structuredContent.roles == [\"user\"]"
expect_jq ".result.structuredContent.subject == \"$ALICE_SUB\"" "structuredContent.subject is the token's sub"
expect_jq '[.. | strings | select(test("^eyJ"))] | length == 0' "whoami does not return the token"
rpc '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi","repeat_count":2}}}' \
  -H "Authorization: Bearer $ALICE"
expect_status 200 "tools/call echo with a token"
expect_jq '.result.content[0].text == "hihi"' "echo still works"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H "Authorization: Bearer $ALICE"
expect_status 202 "a notification with a token"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}'
expect_status 401 "a notification without a token"
request GET /mcp
expect_status 401 "GET /mcp without a token is refused before the 405"
request GET /mcp -H "Authorization: Bearer $ALICE"
expect_status 405 "GET /mcp with a token: 405"
expect_header allow '^POST$' "Allow: POST"

section "the step 1-4 checks still apply behind auth"
request POST /mcp -H "Authorization: Bearer $ALICE" -H 'Content-Type: text/plain' --data-binary '{}'
expect_status 415 "wrong Content-Type with a token: 415"
rpc '{"jsonrpc":"2.0","id":5,"method":"ping"}' -H "Authorization: Bearer $ALICE" -H 'Origin: http://evil.example'
expect_status 403 "a valid token does not get past the Origin guard"
rpc '{"jsonrpc":"2.0","id":5,"method":"ping"}' -H 'Origin: http://evil.example'
expect_status 403 "the Origin guard answers before auth (403, not 401)"

CORPUS_STEP=6 run_token_corpus

section "logs"
expect_log_lacks "$ALICE" "the server log does not contain alice's token"
expect_tokens_not_leaked
expect_log "$SERVER_LOG" 'user="alice"' "the request log names the user (alice)"
expect_log "$SERVER_LOG" 'reason="token expired"' "the log says why a token was refused"
finish
