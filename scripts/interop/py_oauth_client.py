#!/usr/bin/env python3
"""Interop check: the official MCP Python SDK (`mcp`, pinned in requirements.txt) doing the WHOLE
OAuth 2.1 flow itself, with its own `OAuthClientProvider` (an httpx2 `Auth`), against step10 +
Keycloak.

    LOGIN_USER=mcp-user LOGIN_PASSWORD=... scripts/interop/.venv/bin/python \\
        scripts/interop/py_oauth_client.py [--url http://localhost:9000/mcp] [--client-name NAME]
        [--message TEXT] [--forbidden prompts/get] [--login scripts/browser/login.mjs] [--node NODE]

Nothing is given to the client but the MCP URL. `mcp.Client` (default connect mode, 'auto') over
streamable HTTP, with an httpx2 client whose `auth` is the SDK's `OAuthClientProvider`: the
`server/discover` probe gets 401, and the provider discovers the protected resource metadata and
the authorization server metadata, registers a client (RFC 7591; CIMD only when given a
client_metadata_url, which this script does not), builds the authorization URL (PKCE S256, state,
resource, scope) and hands it to the redirect handler. This script supplies what a host must:
in-memory token storage, a loopback callback listener on 127.0.0.1 (a free port), and a "browser":
the redirect handler starts the login driver (scripts/browser/login.mjs, headless Chromium on
Keycloak's real login page, as LOGIN_USER with LOGIN_PASSWORD; LOGIN_CONSENT defaults to accept)
and the callback handler returns the code, state and iss the listener received (the SDK checks
state and iss itself, and redeems the code). Then: tools/list, tools/call echo, and a call the
granted scopes do not allow (--forbidden, default prompts/get, which step10 allows only with
mcp:prompts): the SDK steps up once (a second authorization round for the union of the scopes,
a second login), Keycloak still does not grant the scope, the SDK's retry gets 403 again and the
call fails with the JSON-RPC error of the 403's body (MCPError -32003); the HTTP status and
WWW-Authenticate, which the SDK's error does not carry, are read by an httpx2 event hook.

Prints one line per step ("ok - ..." / "not ok - ..."; "# ..." for context), then
"N passed, M failed". No token, code, state or verifier is printed beyond its first 6 characters
and "…"; the password never. Exit status: 0 all passed, 1 a check failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation
from py_harness import Checks, Usage, describe


MODERN = "2026-07-28"
TIMEOUT_S = 15.0
PERSON_TIMEOUT_S = 60.0  # a browser login plus the redirect back
# Our servers' JSON-RPC error code for a scope refusal (src/mcp/jsonrpc.rs INSUFFICIENT_SCOPE).
INSUFFICIENT_SCOPE_CODE = -32003
HERE = Path(__file__).resolve().parent


def parse_args() -> argparse.Namespace:
    p = Usage(prog="py_oauth_client.py", description="MCP Python SDK OAuth interop check (browser login).")
    p.add_argument("--url", default="http://localhost:9000/mcp")
    p.add_argument("--client-name", default="interop-py-oauth")
    p.add_argument("--message", default="hello from the Python SDK")
    p.add_argument("--forbidden", default="prompts/get", choices=["prompts/get", "prompts/list", "tools/call"])
    p.add_argument("--login", default=str(HERE.parent / "browser" / "login.mjs"), help="the login driver")
    default_node = HERE / "node_modules" / ".bin" / "node"
    p.add_argument("--node", default=str(default_node) if default_node.exists() else (shutil.which("node") or "node"))
    args = p.parse_args()
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        p.error(f"--url is not an http(s) URL: {args.url}")
    if args.client_name.strip() == "":
        p.error("--client-name is empty")
    args.person = os.environ.get("LOGIN_USER", "")
    args.password = os.environ.get("LOGIN_PASSWORD", "")
    if not args.person or not args.password:
        p.error("LOGIN_USER and LOGIN_PASSWORD must be set (the person the login driver plays)")
    return args


ARGS = parse_args()

# ------------------------------------------------------------------------------------- redaction
# Every secret this run handles (tokens, codes, states, verifiers, the password) is remembered and
# every printed line goes through redact(): a secret shows as its first 6 characters and "…".
# Unknown JWTs and Bearer values are cut the same way, as a second line of defence.
SECRETS: set[str] = set()


def remember(value: str | None) -> str | None:
    if value:
        SECRETS.add(value)
    return value


def short(value: str | None) -> str:
    return f"{value[:6]}…" if value else "(none)"


def redact(text: Any) -> str:
    s = str(text)
    for secret in sorted(SECRETS, key=len, reverse=True):
        s = s.replace(secret, "***" if secret == ARGS.password else short(secret))
    s = re.sub(r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*", lambda m: short(m.group(0)), s)
    s = re.sub(r"(Bearer\s+)([A-Za-z0-9._~+/=-]{7,})", lambda m: m.group(1) + short(m.group(2)), s)
    return re.sub(
        r"([?&](?:code|state|access_token|refresh_token|id_token|code_verifier)=)([^&#\s\"']{7,})",
        lambda m: m.group(1) + short(m.group(2)),
        s,
    )


remember(ARGS.password)


CHECKS = Checks(redact)
say, ok, not_ok, check = CHECKS.say, CHECKS.ok, CHECKS.not_ok, CHECKS.check


def note(text: str) -> None:
    say(f"# {text}")


class RedactingHandler(logging.Handler):
    """The SDK logs its OAuth failures (with a traceback) and some warnings: keep one redacted line each."""

    def emit(self, record: logging.LogRecord) -> None:
        first = record.getMessage().splitlines()[0] if record.getMessage() else ""
        exc = f" ({describe(record.exc_info[1])})" if record.exc_info and record.exc_info[1] else ""
        note(f"SDK log {record.levelname} {record.name}: {first}{exc}")


_sdk_logger = logging.getLogger("mcp")
_sdk_logger.addHandler(RedactingHandler(level=logging.WARNING))
_sdk_logger.propagate = False


def without_query(url: Any) -> str:
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


# ------------------------------------------------------------------- what went over the wire
# httpx2 event hooks on the client handed to the SDK see every request, the OAuth provider's own
# (discovery, registration, token) included: method, URL (no query), status, WWW-Authenticate,
# and for MCP POSTs the JSON-RPC method and whether a bearer token was sent. No body is kept but
# the registration request's requested scope.
EXCHANGES: list[dict[str, Any]] = []
_seen = 0


def since() -> list[dict[str, Any]]:
    """The exchanges not yet accounted for."""
    global _seen
    out = EXCHANGES[_seen:]
    _seen = len(EXCHANGES)
    return out


def show(e: dict[str, Any]) -> str:
    rpc = f" {e['rpc']}" if e.get("rpc") else ""
    bearer = " (Bearer)" if e.get("bearer") else ""
    return f"{e['method']} {e['url']}{rpc}{bearer} → {e.get('status')}"


async def on_request(request: httpx2.Request) -> None:
    url = without_query(request.url)
    entry: dict[str, Any] = {
        "method": request.method,
        "url": url,
        "rpc": None,
        "bearer": request.headers.get("authorization", "").lower().startswith("bearer "),
        "_request": request,
    }
    if request.method == "POST" and url == without_query(ARGS.url):
        try:
            entry["rpc"] = json.loads(request.content).get("method", "(response)")
        except (ValueError, AttributeError, httpx2.RequestNotRead):
            entry["rpc"] = "(unparsed)"
    elif request.method == "POST" and "registration" in url:
        try:
            entry["registration_scope"] = json.loads(request.content).get("scope")
        except (ValueError, AttributeError, httpx2.RequestNotRead):
            pass
    EXCHANGES.append(entry)


async def on_response(response: httpx2.Response) -> None:
    for entry in reversed(EXCHANGES):
        if entry.get("_request") is response.request and "status" not in entry:
            entry["status"] = response.status_code
            entry["www_authenticate"] = response.headers.get("www-authenticate")
            break


# --------------------------------------------------------------- the loopback callback listener
CALLBACKS: queue.Queue[dict[str, str]] = queue.Queue()


class CallbackHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        remember(params.get("code"))
        remember(params.get("state"))
        body = (
            b"<!doctype html><title>Signed in</title><p>The MCP client received the authorization response."
            b" You can close this window.</p>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        CALLBACKS.put(params)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: the URL has the code
        pass


LISTENER = ThreadingHTTPServer(("127.0.0.1", 0), CallbackHandler)
REDIRECT_URL = f"http://127.0.0.1:{LISTENER.server_address[1]}/callback"
threading.Thread(target=LISTENER.serve_forever, daemon=True).start()


# ------------------------------------------------------------------------- the host's handlers
class MemoryStorage:
    """The SDK's TokenStorage, in memory for this process only; remembers what was saved."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.saved_tokens: list[OAuthToken] = []
        self.saved_clients: list[OAuthClientInformationFull] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        remember(tokens.access_token)
        remember(tokens.refresh_token)
        remember(getattr(tokens, "id_token", None))
        self.tokens = tokens
        self.saved_tokens.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        remember(client_info.client_secret)
        self.client_info = client_info
        self.saved_clients.append(client_info)


STORAGE = MemoryStorage()
AUTHORIZATION_URLS: list[str] = []
LOGINS: list[dict[str, Any]] = []  # one per redirect: the driver's process, then its outcome
_pending: dict[str, Any] = {}


async def redirect_handler(authorization_url: str) -> None:
    """The SDK hands over the authorization URL: open the "browser" (the login driver), don't wait."""
    query = parse_qs(urlsplit(authorization_url).query)
    remember(query.get("state", [None])[0])
    AUTHORIZATION_URLS.append(authorization_url)
    env = {**os.environ, "LOGIN_USER": ARGS.person, "LOGIN_PASSWORD": ARGS.password}
    env.setdefault("LOGIN_CONSENT", "accept")
    _pending["process"] = subprocess.Popen(
        [ARGS.node, ARGS.login, authorization_url],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_person() -> dict[str, Any]:
    """Blocking (run in a thread): the driver's exit, its messages, and the callback's parameters."""
    process: subprocess.Popen[str] = _pending.pop("process")
    try:
        _, stderr = process.communicate(timeout=PERSON_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        return {"exit": None, "stderr": stderr, "params": None}
    try:
        params = CALLBACKS.get(timeout=5 if process.returncode != 0 else PERSON_TIMEOUT_S)
    except queue.Empty:
        params = None
    return {"exit": process.returncode, "stderr": stderr, "params": params}


async def callback_handler() -> AuthorizationCodeResult:
    """Wait for the person and the redirect back; the SDK then checks state and iss itself."""
    outcome = await anyio.to_thread.run_sync(_wait_for_person)
    outcome["authorization_url"] = AUTHORIZATION_URLS[-1]
    LOGINS.append(outcome)
    params = outcome["params"] or {}
    return AuthorizationCodeResult(code=params.get("code", ""), state=params.get("state"), iss=params.get("iss"))


# --------------------------------------------------------------------------------- the checks
def check_round(label: str, index: int, want_scope: list[str]) -> dict[str, Any] | None:
    """The authorization URL the SDK built for round `index`, the login, and the callback."""
    if index >= len(AUTHORIZATION_URLS):
        not_ok(f"{label}: authorization URL handed to the redirect handler", "the SDK never called the redirect handler")
        return None
    url = AUTHORIZATION_URLS[index]
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    scope = q.get("scope", "").split()
    client_id = STORAGE.client_info.client_id if STORAGE.client_info else None
    check(
        f"{label}: authorization URL handed to the redirect handler: {without_query(url)} (response_type {q.get('response_type')}, "
        f"client_id {q.get('client_id')}, redirect_uri {q.get('redirect_uri')}, code_challenge_method "
        f"{q.get('code_challenge_method')}, resource {q.get('resource')}, scope \"{q.get('scope', '')}\", state {short(q.get('state'))})",
        q.get("response_type") == "code"
        and q.get("code_challenge_method") == "S256"
        and re.fullmatch(r"[A-Za-z0-9_-]{43}", q.get("code_challenge", "")) is not None
        and q.get("redirect_uri") == REDIRECT_URL
        and q.get("client_id") == client_id
        and q.get("resource") == ARGS.url
        and q.get("state")
        and all(s in scope for s in want_scope),
        f"parameters {sorted(q)}, scope {scope}, want {want_scope}, client_id {client_id}",
    )
    if index >= len(LOGINS):
        not_ok(f"{label}: browser login as {ARGS.person}", "the SDK never called the callback handler")
        return None
    login = LOGINS[index]
    for line in (login["stderr"] or "").splitlines():
        if line.strip():
            note(f"browser: {line}")
    if not check(
        f"{label}: browser login as {ARGS.person} on Keycloak's page (login driver exit 0), redirected to the loopback listener",
        login["exit"] == 0,
        f"login driver exit {login['exit']}",
    ):
        return None
    params = login["params"] or {}
    state_ok = params.get("state") == q.get("state")
    check(
        f"{label}: callback GET {REDIRECT_URL}: code {short(params.get('code'))}, state "
        f"{'✓ (matches the authorization URL; the SDK compares it too)' if state_ok else '✗'}"
        + (f", iss {params['iss']}" if params.get("iss") else ""),
        params.get("code") and state_ok and not params.get("error"),
        f"parameters {sorted(params)}, error {params.get('error')!r}",
    )
    return params


def check_token(label: str, exchanges: list[dict[str, Any]], token: OAuthToken | None) -> None:
    posts = [e for e in exchanges if e["method"] == "POST" and e["url"].endswith("/token")]
    check(
        f"{label}: SDK token request {', '.join(show(e) for e in posts) or '(none)'}: access token "
        f"{short(token.access_token if token else None)}, token_type {token.token_type if token else None}, "
        f"expires_in {token.expires_in if token else None}, scope \"{token.scope if token else None}\"",
        token is not None and len(posts) == 1 and posts[0].get("status") == 200,
        f"token requests {[show(e) for e in posts]}",
    )


async def forbidden_call(client: Client) -> Any:
    if ARGS.forbidden == "prompts/get":
        return await client.get_prompt("echo_prompt", {"message": "hi"})
    if ARGS.forbidden == "prompts/list":
        return await client.list_prompts()
    return await client.call_tool("echo", {"message": "hi"})


async def main() -> None:
    with anyio.fail_after(240):  # a hung server or browser fails the run instead of hanging it
        await run_checks()


async def run_checks() -> None:
    note(
        f"server {ARGS.url}, client name {ARGS.client_name}, person {ARGS.person} (login driver {ARGS.login}), "
        f"callback listener {REDIRECT_URL}, forbidden call {ARGS.forbidden}"
    )
    provider = OAuthClientProvider(
        server_url=ARGS.url,
        client_metadata=OAuthClientMetadata(
            client_name=f"mcp-auth-steps interop ({ARGS.client_name})",
            redirect_uris=[REDIRECT_URL],
            token_endpoint_auth_method="none",  # a public client with a loopback redirect (RFC 8252)
        ),
        storage=STORAGE,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    http = httpx2.AsyncClient(
        auth=provider,
        timeout=httpx2.Timeout(TIMEOUT_S),
        event_hooks={"request": [on_request], "response": [on_response]},
    )
    async with http:
        client = Client(
            streamable_http_client(ARGS.url, http_client=http),
            client_info=Implementation(name=ARGS.client_name, version="1.0.0"),
            read_timeout_seconds=TIMEOUT_S,
        )
        connect_error: BaseException | None = None
        try:
            await client.__aenter__()
        except Exception as err:  # noqa: BLE001 - reported below, after what did happen
            connect_error = err
        try:
            await flow_checks(client, provider, connect_error)
        finally:
            if connect_error is None:
                await client.__aexit__(None, None, None)


async def flow_checks(client: Client, provider: OAuthClientProvider, connect_error: BaseException | None) -> None:
    # --- 1. connect: 401, the SDK's discovery, registration, authorization, token, the retry
    first = since()
    unauth = first[0] if first else None
    www = (unauth or {}).get("www_authenticate") or ""
    check(
        f"unauthenticated request answered 401: {show(unauth) if unauth else '(none)'}, WWW-Authenticate: {www}",
        unauth is not None and unauth.get("status") == 401 and not unauth["bearer"] and www.startswith("Bearer ")
        and 'resource_metadata="' in www,
        f"first exchange {show(unauth) if unauth else '(none)'}",
    )
    prm = next((e for e in first if e["method"] == "GET" and "/.well-known/oauth-protected-resource" in e["url"]), None)
    check(f"SDK discovery: protected resource metadata {show(prm) if prm else '(not fetched)'}", prm and prm.get("status") == 200,
          f"exchanges {[show(e) for e in first]}")
    asm = [e for e in first if e["method"] == "GET" and re.search(r"/\.well-known/(oauth-authorization-server|openid-configuration)", e["url"])]
    metadata = provider.context.oauth_metadata  # what the SDK's discovery settled on
    check(
        f"SDK discovery: authorization server metadata {', '.join(show(e) for e in asm) or '(not fetched)'}, "
        f"issuer {metadata.issuer if metadata else None}",
        any(e.get("status") == 200 for e in asm) and metadata is not None,
        f"exchanges {[show(e) for e in first]}",
    )
    reg = [e for e in first if e["method"] == "POST" and "registration" in e["url"]]
    info = STORAGE.client_info
    how = "CIMD (URL-based client_id)" if info and info.client_id.startswith("https://") else "RFC 7591 dynamic registration"
    check(
        f"SDK registration ({how}): {', '.join(show(e) for e in reg) or '(no request)'} (scope \"{reg[0].get('registration_scope') if reg else None}\"), "
        f"client_id {info.client_id if info else None}, token_endpoint_auth_method {info.token_endpoint_auth_method if info else None}"
        + (f", client_secret {short(info.client_secret)}" if info and info.client_secret else ", no client_secret"),
        len(reg) == 1 and reg[0].get("status") == 201 and info is not None and len(STORAGE.saved_clients) == 1,
        f"registration requests {[show(e) for e in reg]}, saved clients {len(STORAGE.saved_clients)}",
    )
    challenge_scope = re.search(r'scope="([^"]*)"', www)
    params = check_round("round 1", 0, challenge_scope.group(1).split() if challenge_scope else ["(challenge scope)"])
    if params is None:
        if connect_error is not None:
            not_ok("connect", describe(connect_error))
        return
    check_token("round 1", first, STORAGE.saved_tokens[0] if STORAGE.saved_tokens else None)
    if connect_error is not None:
        not_ok("connect with the token", f"{describe(connect_error)}; exchanges {[show(e) for e in first]}")
        return
    retried = [e for e in first if e.get("rpc") and e["bearer"]]
    check(
        f"connected with the token (the SDK retried the request itself): {', '.join(show(e) for e in retried)}; "
        f"protocol {client.protocol_version}, discover result {'present' if client.session.discover_result else 'absent'}",
        client.protocol_version == MODERN
        and client.session.discover_result is not None
        and client.session.initialize_result is None
        and retried
        and all(e.get("status") == 200 for e in retried),
        f"protocol_version {client.protocol_version!r}, exchanges {[show(e) for e in first]}",
    )

    # --- 2. tools/list, tools/call
    try:
        tools = await client.list_tools()
        names = [t.name for t in tools.tools]
        check(f"tools/list: {', '.join(names)}", "echo" in names and "whoami" in names, f"tools {names}")
    except Exception as err:  # noqa: BLE001
        not_ok("tools/list", describe(err))
    try:
        result = await client.call_tool("echo", {"message": ARGS.message})
        text = "".join(c.text for c in result.content if getattr(c, "type", None) == "text")
        check(
            f"tools/call echo {json.dumps({'message': ARGS.message})} → {json.dumps(text)}",
            text == ARGS.message and result.is_error is not True,
            f"result {result!r}",
        )
    except Exception as err:  # noqa: BLE001
        not_ok(f"tools/call echo {json.dumps({'message': ARGS.message})}", describe(err))
    since()

    # --- 3. a call the scopes do not allow: the SDK steps up once, then reports the 403's error
    granted_before = (STORAGE.tokens.scope or "").split() if STORAGE.tokens else []
    rounds_before = len(AUTHORIZATION_URLS)
    try:
        answer = await forbidden_call(client)
    except MCPError as err:
        final_error: MCPError | None = err
    except Exception as err:  # noqa: BLE001
        not_ok(f"{ARGS.forbidden} refused", f"the SDK raised {describe(err)}, not an MCPError")
        return
    else:
        not_ok(f"{ARGS.forbidden} with scope \"{' '.join(granted_before)}\"", f"it succeeded: {answer!r}")
        return
    exchanges = since()
    refusals = [e for e in exchanges if e.get("rpc") == ARGS.forbidden and e.get("status") == 403]
    first_403 = refusals[0] if refusals else {}
    www1 = first_403.get("www_authenticate") or ""
    scope_m = re.search(r'scope="([^"]*)"', www1)
    challenged = scope_m.group(1).split() if scope_m else []
    check(
        f"{ARGS.forbidden} → {show(first_403) if first_403 else '(no 403)'}, WWW-Authenticate: {www1}",
        www1.startswith("Bearer ") and 'error="insufficient_scope"' in www1 and challenged,
        f"exchanges {[show(e) for e in exchanges]}",
    )
    stepped_up = len(AUTHORIZATION_URLS) == rounds_before + 1
    if stepped_up:
        ok("SDK step-up on 403 insufficient_scope: a second authorization round, inside the same call")
        params2 = check_round("step-up", rounds_before, granted_before + challenged)
        if params2 is not None:
            token2 = STORAGE.saved_tokens[-1] if len(STORAGE.saved_tokens) >= 2 else None
            check_token("step-up", exchanges, token2)
            granted = (token2.scope or "").split() if token2 else []
            check(
                f"step-up: Keycloak still does not grant {' '.join(challenged)} to {ARGS.person} (token scope \"{token2.scope if token2 else None}\")",
                token2 is not None and not all(s in granted for s in challenged),
                f"token scope {granted}",
            )
    else:
        note(f"the SDK did not step up ({len(AUTHORIZATION_URLS) - rounds_before} new authorization rounds)")
    last = refusals[-1] if refusals else {}
    www2 = last.get("www_authenticate") or ""
    check(
        f"{ARGS.forbidden} retried by the SDK with the new token → HTTP {last.get('status')}, WWW-Authenticate: {www2}",
        len(refusals) == (2 if stepped_up else 1) and last.get("bearer") and www2.startswith("Bearer ")
        and 'error="insufficient_scope"' in www2,
        f"exchanges {[show(e) for e in exchanges]}",
    )
    assert final_error is not None
    note(f"{ARGS.forbidden}: the SDK raised {describe(final_error)}")
    data = final_error.error.data if isinstance(final_error.error.data, dict) else {}
    check(
        f"{ARGS.forbidden} refused for good: the SDK raised MCPError {final_error.error.code} "
        f"\"{final_error.error.message}\" (required_scope {data.get('required_scope')})",
        final_error.error.code == INSUFFICIENT_SCOPE_CODE and all(s in (data.get("required_scope") or []) for s in challenged),
        describe(final_error),
    )
    check(
        "no further authorization round after the refusal",
        len(AUTHORIZATION_URLS) == rounds_before + (1 if stepped_up else 0),
        f"{len(AUTHORIZATION_URLS)} authorization URLs",
    )


def cleanup() -> None:
    """Stops the login driver if it is still running, and the callback listener."""
    process = _pending.get("process")
    if process is not None and process.poll() is None:
        process.kill()
    LISTENER.shutdown()


if __name__ == "__main__":
    CHECKS.finish(main, cleanup)
