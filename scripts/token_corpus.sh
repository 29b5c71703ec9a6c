# shellcheck shell=bash
# The bad-token corpus shared by test_step6.sh, test_step7.sh and test_step8.sh, plus the small JWT
# helpers the step 5–8 scripts use (stdlib python3 and openssl only; no third-party packages).
#
# Use (after lib.sh and start_server):
#   source "$(dirname "$0")/token_corpus.sh"
#   CORPUS_STEP=6 run_token_corpus           # 7+ also expects resource_metadata= and scope= in 401s
#   expect_tokens_not_leaked                 # no token used appears in any server log
#
# Tokens are never printed: failures name the case, not the token.

DEMO_PRIVATE_KEY="$ROOT/keys/mcp_private_key.pem"
DEMO_PUBLIC_KEY="$ROOT/keys/mcp_public_key.pem"
ALL_SCOPES="mcp:read mcp:tools mcp:prompts"
USED_TOKENS=()     # every token the scripts sent, for the log / body leak checks
USED_LABELS=()
CORPUS_5XX=0

# gen ARGS...: runs generate-token from the repository root; stdout only (the token).
gen() { (cd "$ROOT" && "$BIN/generate-token" "$@" 2>/dev/null); }

# remember LABEL TOKEN: records a token for expect_tokens_not_leaked.
remember() { USED_LABELS+=("$1"); USED_TOKENS+=("$2"); }

# b64url: stdin → unpadded base64url.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# jwt_part TOKEN N: the decoded JSON of part N (0 = header, 1 = payload).
jwt_part() {
  python3 - "$1" "$2" <<'PY'
import base64, sys
part = sys.argv[1].split(".")[int(sys.argv[2])]
sys.stdout.write(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode())
PY
}

# forge_rs256 HEADER_JSON PAYLOAD_JSON [PRIVATE_KEY_PEM]: a JWS with a real RS256 signature
# (openssl), so any claims can be tested behind a valid signature.
forge_rs256() {
  local key="${3:-$DEMO_PRIVATE_KEY}" h p s
  h="$(printf '%s' "$1" | b64url)"
  p="$(printf '%s' "$2" | b64url)"
  s="$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$key" -binary | b64url)"
  printf '%s.%s.%s' "$h" "$p" "$s"
}

# forge_hs256 HEADER_JSON PAYLOAD_JSON SECRET_FILE: HMAC-SHA256 keyed with the file's exact bytes.
forge_hs256() {
  python3 - "$1" "$2" "$3" <<'PY'
import base64, hashlib, hmac, sys
b = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
signing_input = b(sys.argv[1].encode()) + "." + b(sys.argv[2].encode())
secret = open(sys.argv[3], "rb").read()
sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
sys.stdout.write(signing_input + "." + b(sig))
PY
}

# claims_json [JQ FILTER]: a claim set valid for the default issuer/audience, then FILTER.
# CORPUS_ISS / CORPUS_AUD override the issuer and audience.
claims_json() {
  jq -nc --argjson now "$(date -u +%s)" \
    --arg iss "${CORPUS_ISS:-http://localhost:9000}" --arg aud "${CORPUS_AUD:-http://localhost:9000/mcp}" \
    '{iss: $iss, aud: $aud, sub: "forged-subject", preferred_username: "mallory", iat: $now,
      nbf: $now, exp: ($now + 600), jti: "corpus", scope: "mcp:read mcp:tools", roles: ["user"]}
     | '"${1:-.}"
}

# header_json [JQ FILTER]: {"alg":"RS256","typ":"JWT","kid":<demo kid>}, then FILTER.
header_json() {
  jq -nc --arg kid "$DEMO_KID" '{alg: "RS256", typ: "JWT", kid: $kid} | '"${1:-.}"
}

# www_auth_json: the response's WWW-Authenticate parsed (RFC 7235 auth-params) as
# {"scheme": "...", "params": {...}, "raw": "..."}; "{}" when the header is absent.
www_auth_json() {
  python3 - "$(header_value www-authenticate)" <<'PY'
import json, re, sys
raw = sys.argv[1]
if not raw:
    print("{}"); sys.exit()
scheme, _, rest = raw.partition(" ")
params, pos = {}, 0
pattern = re.compile(r'\s*([A-Za-z0-9_!#$%&\'*+.^`|~-]+)=("((?:[^"\\]|\\.)*)"|[A-Za-z0-9_!#$%&\'*+.^`|~-]+)\s*(,|$)')
while pos < len(rest):
    m = pattern.match(rest, pos)
    if not m:
        params["__unparsed__"] = rest[pos:]
        break
    params[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    pos = m.end()
print(json.dumps({"scheme": scheme, "params": params, "raw": raw}))
PY
}

# expect_challenge JQ_FILTER DESCRIPTION: the filter holds on www_auth_json (parsed once per
# distinct header value).
CHALLENGE_RAW="(none yet)"
CHALLENGE_JSON=""
expect_challenge() {
  local raw
  raw="$(header_value www-authenticate)"
  if [ "$raw" != "$CHALLENGE_RAW" ] || [ -z "$CHALLENGE_JSON" ]; then
    CHALLENGE_RAW="$raw"
    CHALLENGE_JSON="$(www_auth_json)"
  fi
  if [ -n "$CHALLENGE_JSON" ] && printf '%s' "$CHALLENGE_JSON" | jq -e "$1" >/dev/null 2>&1; then pass "$2"
  else fail "$2: WWW-Authenticate is '$(header_value www-authenticate)'"; fi
}

# auth_ping TOKEN [CURL ARGS...]: POST /mcp ping with "Authorization: Bearer TOKEN".
auth_ping() {
  local token="$1"; shift
  rpc '{"jsonrpc":"2.0","id":7,"method":"ping"}' -H "Authorization: Bearer $token" "$@"
}

# expect_not_echoed LABEL TOKEN: neither the body nor the headers contain the token.
expect_not_echoed() {
  if [ -n "$2" ] && grep -qF -- "$2" "$BODY" "$HEADERS"; then
    python3 - "$BODY" "$2" <<'PY'
import sys
p, t = sys.argv[1], sys.argv[2]
data = open(p, encoding="utf-8", errors="replace").read().replace(t, "<the token>")
open(p, "w").write(data)
PY
    fail "$1: the response echoes the token"
  else
    pass "$1: the response does not echo the token"
  fi
}

# shellcheck disable=SC2153  # STATUS is set by lib.sh's request()
note_5xx() { case "$STATUS" in 5*|curl-error) CORPUS_5XX=$((CORPUS_5XX + 1)) ;; esac; }

# expect_rejected LABEL STATUS ERROR [DESCRIPTION_REGEX]: after a request that must fail
# authentication. ERROR "" means a bare challenge (no error=, body error "unauthorized").
expect_rejected() {
  local label="$1" status="$2" error="$3" why="${4:-}"
  note_5xx
  expect_status "$status" "$label"
  expect_challenge '.scheme == "Bearer" and .params.realm == "mcp" and (.params | has("__unparsed__") | not)' \
    "$label: WWW-Authenticate is a well-formed Bearer challenge with realm=\"mcp\""
  if [ -z "$error" ]; then
    expect_challenge '(.params | has("error") or has("error_description")) | not' "$label: challenge has no error="
    expect_jq '.error == "unauthorized" and (.error_description | type) == "string"' "$label: JSON body error is \"unauthorized\""
  else
    expect_challenge ".params.error == \"$error\"" "$label: challenge error=\"$error\""
    expect_jq ".error == \"$error\"" "$label: JSON body error is \"$error\""
    expect_challenge '.params.error_description | type == "string" and test("^[ !#-\\[\\]-~]*$")' \
      "$label: error_description uses only RFC 6750 characters (no \" or \\)"
    if [ -n "$why" ]; then
      expect_challenge ".params.error_description | test(\"$why\")" "$label: error_description matches /$why/"
      expect_jq ".error_description | test(\"$why\")" "$label: body error_description matches /$why/"
    fi
  fi
  if [ "${CORPUS_STEP:-6}" -ge 7 ]; then
    expect_challenge ".params.resource_metadata == \"$CORPUS_PRM\" and .params.scope == \"$ALL_SCOPES\"" \
      "$label: challenge carries resource_metadata and scope=\"$ALL_SCOPES\""
  else
    expect_challenge '(.params | has("resource_metadata") or has("scope")) | not' \
      "$label: no resource_metadata / scope yet (step 6)"
  fi
}

# expect_accepted LABEL: after auth_ping with a token that must be accepted.
expect_accepted() {
  note_5xx
  expect_status 200 "$1"
  expect_jq '.jsonrpc == "2.0" and .id == 7 and .result == {}' "$1: ping answered {}"
  expect_no_header www-authenticate "$1: no challenge on success"
}

# case_token LABEL TOKEN STATUS ERROR [DESCRIPTION_REGEX]: sends TOKEN, expects the rejection
# (STATUS 200 = accepted), and checks that the token is not echoed.
case_token() {
  local label="$1" token="$2"
  remember "$label" "$token"
  auth_ping "$token"
  if [ "$3" = 200 ]; then expect_accepted "$label"; else expect_rejected "$label" "$3" "$4" "${5:-}"; fi
  expect_not_echoed "$label" "$token"
}

# run_token_corpus: every malformed, forged or out-of-policy token the server must refuse, and the
# edge cases it must accept. Needs BASE (from start_server); CORPUS_STEP (6, 7, 8) and, for 7+,
# CORPUS_PRM (the expected resource_metadata URL).
# shellcheck disable=SC2016  # '$now' in jq filters is a jq variable bound by claims_json
run_token_corpus() {
  local valid other
  valid="$(gen --username alice)"
  DEMO_KID="$(jwt_part "$valid" 0 | jq -r .kid)"
  local h p s
  IFS=. read -r h p s <<<"$valid"

  section "bearer corpus: the Authorization header itself"
  case_token "valid token" "$valid" 200
  remember "valid (lower-case scheme)" "$valid"
  rpc '{"jsonrpc":"2.0","id":7,"method":"ping"}' -H "Authorization: bearer $valid"
  expect_accepted "scheme is case-insensitive (\"bearer\")"

  rpc '{"jsonrpc":"2.0","id":7,"method":"ping"}'
  expect_rejected "no Authorization header" 401 ""
  rpc '{"jsonrpc":"2.0","id":7,"method":"ping"}' -H 'Authorization: Basic YWxpY2U6c2VjcmV0'
  expect_rejected "Authorization: Basic" 401 ""
  rpc '{"jsonrpc":"2.0","id":7,"method":"ping"}' -H 'Authorization: Bearer'
  expect_rejected "\"Bearer\" with no token" 400 invalid_request
  rpc '{"jsonrpc":"2.0","id":7,"method":"ping"}' -H 'Authorization: Bearer a b'
  expect_rejected "\"Bearer a b\" (extra part)" 400 invalid_request
  rpc '{"jsonrpc":"2.0","id":7,"method":"ping"}' -H "Authorization: Bearer $valid" -H "Authorization: Bearer $valid"
  expect_rejected "two Authorization headers" 400 invalid_request
  expect_not_echoed "two Authorization headers" "$valid"
  remember "token in the query string" "$valid"
  request POST "/mcp?access_token=$valid" -H 'Content-Type: application/json' \
    --data-binary '{"jsonrpc":"2.0","id":7,"method":"ping"}'
  expect_rejected "token only in the query string (?access_token=)" 401 ""
  expect_not_echoed "token only in the query string" "$valid"
  remember "token in a form body" "$valid"
  request POST /mcp -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "access_token=$valid"
  expect_rejected "token only in a form body (access_token=)" 401 ""

  section "bearer corpus: tokens that are not JWTs, or damaged"
  case_token "garbage \"abc\"" abc 401 invalid_token "malformed"
  case_token "truncated valid token" "${valid:0:$((${#valid} - 20))}" 401 invalid_token
  case_token "two parts only" "$h.$p" 401 invalid_token "malformed"
  local tampered_payload
  tampered_payload="$(printf '%s' "$(jwt_part "$valid" 1 | jq -c '.scope = "mcp:read mcp:tools mcp:prompts" | .roles = ["user","admin"]')" | b64url)"
  case_token "tampered payload (scope + admin role, original signature)" "$h.$tampered_payload.$s" \
    401 invalid_token "signature verification failed"
  local flipped
  flipped="$(python3 -c 'import sys; s=sys.argv[1]; i=len(s)//2; print(s[:i] + ("A" if s[i] != "A" else "B") + s[i+1:])' "$s")"
  case_token "tampered signature (one character)" "$h.$p.$flipped" 401 invalid_token "signature verification failed"
  local big
  big="$h.$(head -c 76800 /dev/zero | tr '\0' 'A' | b64url).$s"
  case_token "a 100 KB token" "$big" 401 invalid_token

  section "bearer corpus: algorithm confusion"
  case_token "alg none (empty signature)" "$(header_json '.alg = "none"' | b64url).$p." \
    401 invalid_token "[Aa]lgorithm"
  case_token "alg none (signature kept)" "$(header_json '.alg = "none"' | b64url).$p.$s" \
    401 invalid_token "[Aa]lgorithm"
  case_token "alg HS256, HMAC keyed with the public key PEM" \
    "$(forge_hs256 "$(header_json '.alg = "HS256"')" "$(claims_json)" "$DEMO_PUBLIC_KEY")" \
    401 invalid_token "[Aa]lgorithm"
  case_token "alg RS512 (not pinned)" "$(header_json '.alg = "RS512"' | b64url).$p.$s" \
    401 invalid_token "[Aa]lgorithm"

  section "bearer corpus: keys"
  other="$WORK/other-keys"
  [ -f "$other/p.pem" ] || (cd "$ROOT" && "$BIN/generate-token" --generate-keys --key "$other/p.pem" --public-key "$other/pub.pem") >/dev/null 2>&1
  case_token "signed by another key (unknown kid)" "$(gen --username alice --key "$other/p.pem")" \
    401 invalid_token "kid"
  case_token "our kid, signed by another key" "$(forge_rs256 "$(header_json)" "$(claims_json)" "$other/p.pem")" \
    401 invalid_token "signature verification failed"
  case_token "no kid in the header" "$(forge_rs256 "$(header_json 'del(.kid)')" "$(claims_json)")" \
    401 invalid_token "kid"
  case_token "crit lists an extension (RFC 7515 §4.1.11), validly signed" \
    "$(forge_rs256 "$(header_json '.crit = ["exp"] | .exp = 1')" "$(claims_json)")" \
    401 invalid_token "unsupported critical header"

  section "bearer corpus: time claims (leeway 30 s)"
  case_token "expired (--expires -1h)" "$(gen --username alice --expires -1h)" 401 invalid_token "token expired"
  case_token "not valid yet (--not-before 10m)" "$(gen --username alice --not-before 10m)" \
    401 invalid_token "token not valid yet"
  case_token "iat one hour in the future (forged)" "$(forge_rs256 "$(header_json)" "$(claims_json '.iat = .iat + 3600')")" \
    401 invalid_token "issued in the future"
  case_token "no exp (forged)" "$(forge_rs256 "$(header_json)" "$(claims_json 'del(.exp)')")" \
    401 invalid_token "missing required claim exp"
  case_token "exp is a string (forged)" "$(forge_rs256 "$(header_json)" "$(claims_json '.exp = "tomorrow"')")" \
    401 invalid_token
  case_token "expired 10 s ago: inside the leeway (forged)" \
    "$(forge_rs256 "$(header_json)" "$(claims_json '.iat = $now - 600 | .nbf = .iat | .exp = $now - 10')")" 200
  case_token "expired 90 s ago: outside the leeway (forged)" \
    "$(forge_rs256 "$(header_json)" "$(claims_json '.iat = $now - 600 | .nbf = .iat | .exp = $now - 90')")" \
    401 invalid_token "token expired"
  case_token "iat 10 s in the future: inside the leeway (forged)" \
    "$(forge_rs256 "$(header_json)" "$(claims_json '.iat = .iat + 10')")" 200
  case_token "no iat, no nbf (forged)" "$(forge_rs256 "$(header_json)" "$(claims_json 'del(.iat) | del(.nbf)')")" 200

  section "bearer corpus: issuer and audience"
  case_token "wrong iss (--issuer http://evil)" "$(gen --username alice --issuer http://evil)" \
    401 invalid_token "unexpected issuer"
  case_token "no iss (forged)" "$(forge_rs256 "$(header_json)" "$(claims_json 'del(.iss)')")" \
    401 invalid_token "missing required claim iss"
  case_token "wrong aud (--audience http://localhost:9000/other)" \
    "$(gen --username alice --audience http://localhost:9000/other)" 401 invalid_token "unexpected audience"
  case_token "aud is the server base, not the /mcp resource" \
    "$(gen --username alice --audience "${CORPUS_ISS:-http://localhost:9000}")" 401 invalid_token "unexpected audience"
  case_token "no aud (forged)" "$(forge_rs256 "$(header_json)" "$(claims_json 'del(.aud)')")" \
    401 invalid_token "missing required claim aud"
  case_token "aud as a list containing ours (forged)" \
    "$(forge_rs256 "$(header_json)" "$(claims_json '.aud = ["http://other.example/api", .aud]')")" 200
  case_token "aud as a list without ours (forged)" \
    "$(forge_rs256 "$(header_json)" "$(claims_json '.aud = ["http://other.example/api"]')")" \
    401 invalid_token "unexpected audience"

  section "bearer corpus: no 5xx"
  if [ "$CORPUS_5XX" -eq 0 ]; then pass "no corpus request got a 5xx or a transport error"
  else fail "$CORPUS_5XX corpus request(s) got a 5xx or a transport error"; fi
}

# expect_tokens_not_leaked: no token the script used appears in any server log it captured.
expect_tokens_not_leaked() {
  local i leaked=()
  logs_settled # lines reach the log files a few ms after the response (scripts/lib.sh)
  for i in "${!USED_TOKENS[@]}"; do
    if grep -rqF -- "${USED_TOKENS[$i]}" "$WORK"/*.log 2>/dev/null; then leaked+=("${USED_LABELS[$i]}"); fi
  done
  # The JWT header + payload alone must not be logged either (a signature-stripped token is still
  # a readable credential description).
  for i in "${!USED_TOKENS[@]}"; do
    local head="${USED_TOKENS[$i]%.*}"
    if [ "${#head}" -gt 40 ] && grep -rqF -- "$head" "$WORK"/*.log 2>/dev/null; then
      leaked+=("${USED_LABELS[$i]} (header.payload)")
    fi
  done
  if [ "${#leaked[@]}" -eq 0 ]; then
    pass "server logs contain none of the ${#USED_TOKENS[@]} tokens sent"
  else
    fail "server logs contain tokens: ${leaked[*]}"
  fi
}
