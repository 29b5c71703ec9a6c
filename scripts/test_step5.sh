#!/usr/bin/env bash
# Step 5: the demo key pair, the JWKS (RFC 7517/7518, kid = RFC 7638 thumbprint) and the
# generate-token binary. Signatures are verified independently with openssl against a PEM built
# from the served JWKS. Tokens are never printed.
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/token_corpus.sh
source "$(dirname "$0")/token_corpus.sh"
build_once

JWK_MEMBERS='["alg","e","kid","kty","n","use"]'
CLAIM_NAMES='["aud","exp","iat","iss","jti","nbf","preferred_username","roles","scope","sub"]'

# jwks_to_pem: stdin = a JWK Set; stdout = the first key as an SPKI PEM (DER built by hand).
jwks_to_pem() {
  python3 -c '
import base64, json, sys
def b64d(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def length(n):
    if n < 128: return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big"); return bytes([0x80 | len(b)]) + b
def tlv(tag, body): return bytes([tag]) + length(len(body)) + body
def integer(b):
    b = b.lstrip(b"\0") or b"\0"
    return tlv(0x02, (b"\0" + b) if b[0] & 0x80 else b)
jwk = json.load(sys.stdin)["keys"][0]
rsa = tlv(0x30, integer(b64d(jwk["n"])) + integer(b64d(jwk["e"])))
alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
der = base64.b64encode(tlv(0x30, alg + tlv(0x03, b"\0" + rsa))).decode()
print("-----BEGIN PUBLIC KEY-----")
for i in range(0, len(der), 64): print(der[i:i + 64])
print("-----END PUBLIC KEY-----")'
}

# thumbprint: stdin = a JWK Set; stdout = RFC 7638 SHA-256 thumbprint of its first key.
thumbprint() {
  python3 -c '
import base64, hashlib, json, sys
k = json.load(sys.stdin)["keys"][0]
canonical = json.dumps({"e": k["e"], "kty": k["kty"], "n": k["n"]}, separators=(",", ":"), sort_keys=True)
print(base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode())'
}

# verify_rs256 TOKEN PEM: openssl's verdict on the token's signature.
verify_rs256() {
  local h p s
  IFS=. read -r h p s <<<"$1"
  printf '%s.%s' "$h" "$p" >"$WORK/signing-input"
  python3 -c 'import base64,sys; s=sys.argv[1]; sys.stdout.buffer.write(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))' "$s" >"$WORK/sig.bin"
  openssl dgst -sha256 -verify "$2" -signature "$WORK/sig.bin" "$WORK/signing-input" 2>&1
}

# check DESCRIPTION COMMAND...: pass when the command succeeds.
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi; }
# jq_on JSON FILTER: jq -e on a string (called through check).
# shellcheck disable=SC2317
jq_on() { [ -n "$1" ] && printf '%s' "$1" | jq -e "$2" >/dev/null 2>&1; }
# jq_file FILTER FILE: jq -e on a non-empty file (jq 1.6 -e passes on empty input).
# shellcheck disable=SC2317
jq_file() { [ -s "$2" ] && jq -e "$1" "$2" >/dev/null 2>&1; }

section "demo key files (keys/, DEMO ONLY)"
check "keys/mcp_private_key.pem is PKCS#8 (BEGIN PRIVATE KEY)" grep -q '^-----BEGIN PRIVATE KEY-----$' "$DEMO_PRIVATE_KEY"
check "keys/mcp_public_key.pem is SPKI (BEGIN PUBLIC KEY)" grep -q '^-----BEGIN PUBLIC KEY-----$' "$DEMO_PUBLIC_KEY"
check "the demo key is RSA 2048" grep -q 'Public-Key: (2048 bit)' <(openssl rsa -pubin -in "$DEMO_PUBLIC_KEY" -text -noout 2>/dev/null)
check "the private and public key files are one pair" test \
  "$(openssl rsa -in "$DEMO_PRIVATE_KEY" -modulus -noout 2>/dev/null)" = "$(openssl rsa -pubin -in "$DEMO_PUBLIC_KEY" -modulus -noout 2>/dev/null)"

section "JWKS"
start_server step5
request GET /.well-known/jwks.json
expect_status 200 "GET /.well-known/jwks.json without a token"
expect_header content-type '^application/json' "JWKS is application/json"
expect_header cache-control 'max-age=[0-9]+' "JWKS has Cache-Control max-age"
max_age="$(header_value cache-control | sed -n 's/.*max-age=\([0-9]*\).*/\1/p')"
if [ -n "$max_age" ] && [ "$max_age" -ge 60 ] && [ "$max_age" -le 86400 ]; then pass "max-age $max_age is modest (1 min .. 1 day)"
else fail "max-age '$max_age' is not between 60 and 86400"; fi
expect_jq '(keys == ["keys"]) and (.keys | length) == 1' "JWKS is {\"keys\": [one key]}"
expect_jq ".keys[0] | keys == $JWK_MEMBERS" "the JWK has exactly kty, use, alg, kid, n, e"
expect_jq '.keys[0] | .kty == "RSA" and .use == "sig" and .alg == "RS256" and .e == "AQAB"' "kty RSA, use sig, alg RS256, e AQAB"
expect_jq '.keys[0] | [.n, .e, .kid] | all(test("^[A-Za-z0-9_-]+$"))' "n, e and kid are unpadded base64url (no =, +, /)"
expect_jq '.keys[0].n | length == 342' "n is 342 base64url characters (256 bytes: RSA 2048)"
cp "$BODY" "$WORK/jwks.json"
JWKS_KID="$(jq -r '.keys[0].kid' "$WORK/jwks.json")"
THUMB="$(thumbprint <"$WORK/jwks.json")"
if [ -n "$THUMB" ] && [ "$JWKS_KID" = "$THUMB" ]; then pass "kid is the RFC 7638 thumbprint (computed here with python3)"
else fail "kid '$JWKS_KID' is not the RFC 7638 thumbprint '$THUMB'"; fi
jwks_to_pem <"$WORK/jwks.json" >"$WORK/jwks.pem"
n_hex="$(python3 -c 'import base64,json,sys; n=json.load(sys.stdin)["keys"][0]["n"]; print(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)).hex().upper().lstrip("0"))' <"$WORK/jwks.json")"
check "the JWKS n is the modulus of keys/mcp_public_key.pem" test "Modulus=$n_hex" = "$(openssl rsa -pubin -in "$DEMO_PUBLIC_KEY" -modulus -noout 2>/dev/null)"
check "the PEM built from the JWKS is the same key as keys/mcp_public_key.pem" test \
  "$(openssl rsa -pubin -in "$WORK/jwks.pem" -outform DER 2>/dev/null | sha256sum)" = "$(openssl rsa -pubin -in "$DEMO_PUBLIC_KEY" -outform DER 2>/dev/null | sha256sum)"
request GET /.well-known/jwks.json
cp "$BODY" "$WORK/jwks2.json"
check "the JWKS is byte-for-byte stable across requests" cmp -s "$WORK/jwks.json" "$WORK/jwks2.json"

section "tokens verify against the served JWKS"
gen --username alice >"$WORK/alice.out" 2>/dev/null
TOKEN="$(cat "$WORK/alice.out")"
remember alice "$TOKEN"
HEADER="$(jwt_part "$TOKEN" 0)"
CLAIMS="$(jwt_part "$TOKEN" 1)"
check "token header kid equals the JWKS kid" jq_on "$HEADER" ".kid == \"$JWKS_KID\""
if verify_rs256 "$TOKEN" "$WORK/jwks.pem" | grep -q '^Verified OK$'; then pass "openssl verifies the RS256 signature with the JWKS key"
else fail "openssl does not verify the token's signature with the JWKS key"; fi
IFS=. read -r H _ S <<<"$TOKEN"
forged_payload="$(printf '%s' "$CLAIMS" | jq -c '.scope = "mcp:read mcp:tools mcp:prompts"' | b64url)"
if verify_rs256 "$H.$forged_payload.$S" "$WORK/jwks.pem" | grep -q '^Verified OK$'; then fail "a tampered payload still verifies"
else pass "a tampered payload does not verify (the check above can fail)"; fi

section "step 5 does not enforce tokens yet"
request GET /health
expect_status 200 "/health"
expect_jq '.status == "healthy" and .step == 5 and ((.auth_required // false) == false)' "/health: healthy, step 5, auth not required"
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
expect_status 200 "initialize without a token"
expect_jq '.result.protocolVersion == "2025-11-25"' "initialize negotiates 2025-11-25"
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}'
expect_status 200 "tools/call echo without a token"
expect_jq '.result.content[0].text == "hi" and .result.isError == false' "echo answers"
rpc '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' -H 'Authorization: Bearer not-a-token'
expect_status 200 "a garbage bearer token is ignored in step 5"
expect_jq '[.result.tools[].name] == ["echo"]' "tools/list has echo only (whoami arrives in step 6)"
expect_no_header www-authenticate "no challenge in step 5"

section "the server refuses to start without a usable public key"
expect_exit 1 "step5 --public-key /nonexistent.pem exits 1" timeout 10 "$BIN/step5" --port 0 --public-key /nonexistent.pem
expect_output 'public key /nonexistent\.pem' "the message names the missing file"
expect_output 'No such file' "the message says why"
printf 'hello\n' >"$WORK/garbage.pem"
expect_exit 1 "step5 with a garbage key file exits 1" timeout 10 "$BIN/step5" --port 0 --public-key "$WORK/garbage.pem"
expect_output "public key $WORK/garbage\\.pem: not an RSA public key" "the message names the file and says it is not an RSA public key"
expect_exit 1 "step5 given the PRIVATE key as --public-key exits 1" timeout 10 "$BIN/step5" --port 0 --public-key "$DEMO_PRIVATE_KEY"
expect_output 'not an RSA public key in SPKI PEM form' "the message says which form is expected"
expect_exit 1 "MCP_PUBLIC_KEY=/nonexistent.pem exits 1" env MCP_PUBLIC_KEY=/nonexistent.pem timeout 10 "$BIN/step5" --port 0
expect_output 'public key /nonexistent\.pem' "the env variable is honoured and the file named"

section "generate-token: stdout is the token, nothing else"
(cd "$ROOT" && "$BIN/generate-token" --username alice) >"$WORK/gt.out" 2>"$WORK/gt.err"
check "exit 0" test $? -eq 0
check "stdout is exactly one line" test "$(wc -l <"$WORK/gt.out")" -eq 1
check "that line is a JWT (three base64url parts) and nothing else" grep -Eqx '[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+' "$WORK/gt.out"
check "the human summary goes to stderr" grep -q 'token for alice' "$WORK/gt.err"
remember gt "$(cat "$WORK/gt.out")"
if grep -qF -- "$(cat "$WORK/gt.out")" "$WORK/gt.err"; then fail "stderr repeats the token"; else pass "stderr does not repeat the token"; fi

section "generate-token: header and claims"
check "header alg RS256, typ JWT, kid = thumbprint" jq_on "$HEADER" ". == {alg: \"RS256\", typ: \"JWT\", kid: \"$THUMB\"}"
check "claims are exactly iss aud sub preferred_username iat nbf exp jti scope roles" jq_on "$CLAIMS" "keys == $CLAIM_NAMES"
check "default iss http://localhost:9000" jq_on "$CLAIMS" '.iss == "http://localhost:9000"'
check "default aud http://localhost:9000/mcp (a string)" jq_on "$CLAIMS" '.aud == "http://localhost:9000/mcp"'
check "default scope \"mcp:read mcp:tools\" (space-separated)" jq_on "$CLAIMS" '.scope == "mcp:read mcp:tools"'
check "default roles [\"user\"]" jq_on "$CLAIMS" '.roles == ["user"]'
check "preferred_username alice" jq_on "$CLAIMS" '.preferred_username == "alice"'
check "exp - iat == 3600 and nbf == iat" jq_on "$CLAIMS" '(.exp - .iat) == 3600 and .nbf == .iat'
check "iat, nbf, exp are integers" jq_on "$CLAIMS" '[.iat, .nbf, .exp] | all(type == "number" and . == floor)'
check "sub is not the username" jq_on "$CLAIMS" '.sub != "alice" and (.sub | length) > 8'
NOW="$(date -u +%s)"
check "iat is now (UTC seconds, within 5 s)" jq_on "$CLAIMS" "(.iat - $NOW) | fabs <= 5"
SUB1="$(printf '%s' "$CLAIMS" | jq -r .sub)"
JTI1="$(printf '%s' "$CLAIMS" | jq -r .jti)"
T2="$(gen --username alice)"; remember alice2 "$T2"
SUB2="$(jwt_part "$T2" 1 | jq -r .sub)"; JTI2="$(jwt_part "$T2" 1 | jq -r .jti)"
T3="$(gen --username bob)"; remember bob "$T3"
SUB3="$(jwt_part "$T3" 1 | jq -r .sub)"
check "sub is stable across runs for the same username" test "$SUB1" = "$SUB2"
check "sub differs for another username" test "$SUB1" != "$SUB3"
check "jti differs on every run" test "$JTI1" != "$JTI2"

section "generate-token: options"
for spec in "15m 900" "30s 30" "2d 172800" "-1h -3600" "90 90"; do
  read -r given seconds <<<"$spec"
  t="$(gen --username alice --expires "$given")"; remember "expires $given" "$t"
  check "--expires $given gives exp - iat == $seconds" jq_on "$(jwt_part "$t" 1)" "(.exp - .iat) == $seconds"
done
t="$(gen --username alice --not-before 10m)"; remember nbf "$t"
check "--not-before 10m gives nbf - iat == 600" jq_on "$(jwt_part "$t" 1)" '(.nbf - .iat) == 600'
t="$(gen --username carol --scopes mcp:read,mcp:prompts --roles user,admin --issuer http://issuer.example --audience http://rs.example/mcp)"
remember custom "$t"
check "--scopes/--roles/--issuer/--audience land in the claims" jq_on "$(jwt_part "$t" 1)" \
  '.scope == "mcp:read mcp:prompts" and .roles == ["user","admin"] and .iss == "http://issuer.example" and .aud == "http://rs.example/mcp"'
t="$(gen --username nobody --scopes '')"; remember noscope "$t"
check "--scopes '' gives an empty scope string" jq_on "$(jwt_part "$t" 1)" '.scope == ""'

(cd "$ROOT" && "$BIN/generate-token" --username alice --json) >"$WORK/json.out" 2>/dev/null
check "--json: one line of JSON with exactly {token, claims}" jq_file 'keys == ["claims","token"]' "$WORK/json.out"
JT="$(jq -r .token "$WORK/json.out")"; remember json "$JT"
check "--json: claims are the token's payload" test "$(jq -cS .claims "$WORK/json.out")" = "$(jwt_part "$JT" 1 | jq -cS .)"
check "--json: one line" test "$(wc -l <"$WORK/json.out")" -eq 1

section "generate-token --demo"
(cd "$ROOT" && "$BIN/generate-token" --demo) >"$WORK/demo.out" 2>/dev/null
check "--demo: four lines ALICE_TOKEN, BOB_TOKEN, ADMIN_TOKEN, GUEST_TOKEN" test \
  "$(cut -d= -f1 "$WORK/demo.out" | tr '\n' ' ')" = "ALICE_TOKEN BOB_TOKEN ADMIN_TOKEN GUEST_TOKEN "
check "--demo: every line is NAME_TOKEN=<JWT>" test "$(grep -Ecx '[A-Z]+_TOKEN=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+' "$WORK/demo.out")" -eq 4
while IFS='=' read -r name value; do
  remember "$name" "$value"
  case "$name" in
    ALICE_TOKEN) want='.preferred_username == "alice" and .scope == "mcp:read mcp:tools" and .roles == ["user"]' ;;
    BOB_TOKEN) want='.preferred_username == "bob" and .scope == "mcp:read mcp:prompts" and .roles == ["user"]' ;;
    ADMIN_TOKEN) want='.preferred_username == "admin" and .scope == "mcp:read mcp:tools mcp:prompts" and .roles == ["user","admin"]' ;;
    GUEST_TOKEN) want='.preferred_username == "guest" and .scope == "" and .roles == ["user"]' ;;
  esac
  check "--demo: $name has the SPEC scopes and roles" jq_on "$(jwt_part "$value" 1)" "$want"
  if verify_rs256 "$value" "$WORK/jwks.pem" | grep -q '^Verified OK$'; then pass "--demo: $name verifies against the JWKS"
  else fail "--demo: $name does not verify against the JWKS"; fi
done <"$WORK/demo.out"
eval "$(cd "$ROOT" && "$BIN/generate-token" --demo 2>/dev/null)"
check "eval \"\$(generate-token --demo)\" sets the four variables" test -n "${ALICE_TOKEN:-}" -a -n "${BOB_TOKEN:-}" -a -n "${ADMIN_TOKEN:-}" -a -n "${GUEST_TOKEN:-}"

section "generate-token --decode"
(cd "$ROOT" && "$BIN/generate-token" --decode "$TOKEN") >"$WORK/decode.out" 2>"$WORK/decode.err"
check "--decode exits 0" test $? -eq 0
check "--decode prints {header, claims} as JSON" jq_file "keys == [\"claims\",\"header\"] and .header.kid == \"$THUMB\" and .claims.preferred_username == \"alice\"" "$WORK/decode.out"
check "--decode says NOT VERIFIED on stderr" grep -q 'NOT VERIFIED' "$WORK/decode.err"
check "--decode does not print the token" test "$(grep -cF -- "$TOKEN" "$WORK/decode.out" "$WORK/decode.err" | awk -F: '{s+=$2} END {print s}')" -eq 0
expect_exit 1 "--decode of a non-JWT exits 1" "$BIN/generate-token" --decode not-a-jwt
expect_output 'three dot-separated parts' "--decode explains what a JWT looks like"

section "generate-token: times are UTC whatever TZ says"
for tz in Asia/Tokyo America/Los_Angeles; do
  (cd "$ROOT" && TZ=$tz "$BIN/generate-token" --username alice) >"$WORK/tz.out" 2>"$WORK/tz.err"
  t="$(cat "$WORK/tz.out")"; remember "tz $tz" "$t"
  now="$(date -u +%s)"
  check "TZ=$tz: iat within 5 s of date -u +%s" jq_on "$(jwt_part "$t" 1)" "(.iat - $now) | fabs <= 5"
  iat="$(jwt_part "$t" 1 | jq -r .iat)"
  check "TZ=$tz: the stderr summary shows iat in UTC ($(date -u -d "@$iat" +%FT%TZ))" grep -qF "iat $(date -u -d "@$iat" +%FT%TZ)" "$WORK/tz.err"
done

section "generate-token --generate-keys"
KD="$WORK/newkeys"
expect_exit 0 "--generate-keys into a temp dir" "$BIN/generate-token" --generate-keys --key "$KD/p.pem" --public-key "$KD/pub.pem"
check "private key written with mode 0600" test "$(stat -c %a "$KD/p.pem")" = 600
check "private key is PKCS#8 RSA 2048" grep -q 'Private-Key: (2048 bit' <(openssl pkey -in "$KD/p.pem" -text -noout 2>/dev/null)
check "public key is SPKI and matches the private key" test \
  "$(openssl rsa -in "$KD/p.pem" -modulus -noout 2>/dev/null)" = "$(openssl rsa -pubin -in "$KD/pub.pem" -modulus -noout 2>/dev/null)"
check "the new key differs from the demo key" test \
  "$(openssl rsa -pubin -in "$KD/pub.pem" -modulus -noout 2>/dev/null)" != "$(openssl rsa -pubin -in "$DEMO_PUBLIC_KEY" -modulus -noout 2>/dev/null)"
before="$(sha256sum "$KD/p.pem" "$KD/pub.pem")"
expect_exit 1 "--generate-keys again without --force exits 1" "$BIN/generate-token" --generate-keys --key "$KD/p.pem" --public-key "$KD/pub.pem"
expect_output '--force' "the refusal says --force"
expect_output "$KD/p.pem" "the refusal names the file"
check "the refused run changed nothing" test "$before" = "$(sha256sum "$KD/p.pem" "$KD/pub.pem")"
chmod 644 "$KD/p.pem"   # as a committed key file is in a fresh clone
expect_exit 0 "--generate-keys --force replaces the pair" "$BIN/generate-token" --generate-keys --force --key "$KD/p.pem" --public-key "$KD/pub.pem"
check "--force wrote a new key" test "$before" != "$(sha256sum "$KD/p.pem" "$KD/pub.pem")"
check "the replaced private key (0644 before) is 0600" test "$(stat -c %a "$KD/p.pem")" = 600
t="$(gen --username alice --key "$KD/p.pem")"; remember newkey "$t"
check "a token signed with the new key has another kid" jq_on "$(jwt_part "$t" 0)" ".kid != \"$THUMB\""
openssl rsa -pubin -in "$KD/pub.pem" -out "$WORK/newpub.pem" 2>/dev/null
if verify_rs256 "$t" "$WORK/newpub.pem" | grep -q '^Verified OK$'; then pass "it verifies with the new public key"; else fail "it does not verify with the new public key"; fi

section "generate-token: clear errors"
expect_exit 1 "a missing --key file exits 1" "$BIN/generate-token" --username alice --key "$WORK/missing.pem"
expect_output "private key $WORK/missing\\.pem: No such file" "the message names the missing file"
check "nothing on stdout when the key is missing" test -z "$(cd "$ROOT" && "$BIN/generate-token" --username alice --key "$WORK/missing.pem" 2>/dev/null)"
expect_exit 1 "--expires banana exits 1" "$BIN/generate-token" --username alice --expires banana
expect_output '--expires: "banana" is not a duration' "the message names the flag and the value"
expect_exit 1 "--not-before 5x exits 1" "$BIN/generate-token" --username alice --not-before 5x
expect_output '--not-before' "the message names the flag"
expect_exit nonzero "no --username exits non-zero" "$BIN/generate-token"
expect_output 'username' "the message asks for --username"

expect_log_lacks "$TOKEN" "the server log does not contain the token"
expect_tokens_not_leaked
finish
