#!/usr/bin/env python3
"""Interop check: the official MCP Python SDK (`mcp`, pinned in requirements.txt) against one of
our servers, in the SDK's DEFAULT connect mode.

    scripts/interop/.venv/bin/python scripts/interop/py_client.py [--url http://127.0.0.1:9000/mcp]
        [--token T] [--client-name NAME] [--expect-forbidden tools/call]

`mcp.Client(...)` without `mode=` connects in mode 'auto' (mcp 2.x): it sends a `server/discover`
probe at 2026-07-28 and adopts the result when it is modern evidence, and otherwise falls back to
the legacy `initialize` handshake *silently* (any JSON-RPC error, any HTTP 4xx, an unparseable
result: see mcp/client/_probe.py). So this script asserts that it did NOT fall back:
  the default mode is 'auto'; after connect the negotiated version is 2026-07-28, the session holds
  a discover result (and no initialize result) whose supportedVersions has 2026-07-28; every POST
  carried MCP-Protocol-Version: 2026-07-28 and Mcp-Method, none was initialize; tools/list has
  echo; tools/call echo {message:"hi", repeat_count:2} -> "hihi" (text and structuredContent.text).
--token T           sent as "Authorization: Bearer T" on every request (a header of the httpx2
                    client handed to the SDK's streamable HTTP transport); never printed.
--client-name NAME  clientInfo.name sent in every request's _meta (default interop-py): the server
                    logs it as client="NAME", which test_interop.sh greps for.
--expect-forbidden tools/call
                    tools/call must fail with HTTP 403 + WWW-Authenticate error="insufficient_scope".
Prints one line per check ("ok - ..." / "not ok - ..."), then "N passed, M failed".
Exit status: 0 all passed, 1 a check failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation
from py_harness import Checks, Usage, describe


MODERN = "2026-07-28"
TIMEOUT_S = 10.0
# Our servers' JSON-RPC error code for a scope refusal (src/mcp/jsonrpc.rs INSUFFICIENT_SCOPE).
INSUFFICIENT_SCOPE_CODE = -32003


def parse_args() -> argparse.Namespace:
    p = Usage(prog="py_client.py", description="MCP Python SDK interop check (default connect mode).")
    p.add_argument("--url", default="http://127.0.0.1:9000/mcp")
    p.add_argument("--token", default=None, help="bearer token (never printed)")
    p.add_argument("--client-name", default="interop-py")
    p.add_argument("--expect-forbidden", default="", metavar="tools/call")
    args = p.parse_args()
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        p.error(f"--url is not an http(s) URL: {args.url}")
    if args.token is not None and args.token.strip() == "":
        p.error("--token is empty")
    if args.client_name.strip() == "":
        p.error("--client-name is empty")
    forbidden = {m.strip() for m in args.expect_forbidden.split(",") if m.strip()}
    if forbidden - {"tools/call"}:
        p.error(f"--expect-forbidden: only tools/call is supported, not {sorted(forbidden - {'tools/call'})}")
    args.forbidden = forbidden
    return args


ARGS = parse_args()


def redact(text: Any) -> str:
    """Never let the token reach the output, whatever an error message contains."""
    s = str(text)
    if ARGS.token:
        s = s.replace(ARGS.token, "<redacted>")
    return re.sub(r"Bearer\s+[A-Za-z0-9._~+/=-]{8,}", "Bearer <redacted>", s)


CHECKS = Checks(redact)
ok, not_ok, check = CHECKS.ok, CHECKS.not_ok, CHECKS.check


# What went over the wire, recorded by httpx2 event hooks on the client handed to the SDK:
# every POST's JSON-RPC method and MCP headers, and the last answer's status and WWW-Authenticate
# (the SDK's errors carry neither).
POSTS: list[dict[str, Any]] = []
LAST_HTTP: dict[str, Any] = {"status": None, "www_authenticate": None}


async def on_request(request: httpx2.Request) -> None:
    if request.method != "POST":
        return
    try:
        method = json.loads(request.content).get("method", "(response)")
    except (ValueError, AttributeError, httpx2.RequestNotRead):
        method = "(unparsed)"
    POSTS.append(
        {
            "method": method,
            "protocol_version": request.headers.get("mcp-protocol-version"),
            "mcp_method": request.headers.get("mcp-method"),
        }
    )


async def on_response(response: httpx2.Response) -> None:
    LAST_HTTP["status"] = response.status_code
    LAST_HTTP["www_authenticate"] = response.headers.get("www-authenticate")


async def main() -> None:
    with anyio.fail_after(60):  # a hung server fails the run instead of hanging it
        await run_checks()


async def run_checks() -> None:
    default_mode = Client.__dataclass_fields__["mode"].default
    check("the SDK's default connect mode is 'auto'", default_mode == "auto", f"default mode is {default_mode!r}")

    headers = {"Authorization": f"Bearer {ARGS.token}"} if ARGS.token else None
    http = httpx2.AsyncClient(
        headers=headers,
        timeout=httpx2.Timeout(TIMEOUT_S),
        event_hooks={"request": [on_request], "response": [on_response]},
    )
    forbidden = "tools/call" in ARGS.forbidden
    print(
        f"# server {ARGS.url}{' (with a bearer token)' if ARGS.token else ''}, client name {ARGS.client_name}"
        + (", expecting 403 for tools/call" if forbidden else ""),
        flush=True,
    )
    async with http:
        # No `mode=`: the default ('auto') is what is under test.
        client = Client(
            streamable_http_client(ARGS.url, http_client=http),
            client_info=Implementation(name=ARGS.client_name, version="1.0.0"),
            read_timeout_seconds=TIMEOUT_S,
        )
        try:
            await client.__aenter__()
        except Exception as err:  # noqa: BLE001 - any failure to connect is a failed check
            not_ok(
                "connect (default mode)",
                f"{describe(err)} (last HTTP status {LAST_HTTP['status']}, "
                f"WWW-Authenticate {LAST_HTTP['www_authenticate']}; POSTs sent: {[p['method'] for p in POSTS]})",
            )
            return
        try:
            ok("connect (default mode)")
            await checks(client, forbidden)
        finally:
            await client.__aexit__(None, None, None)


async def checks(client: Client, forbidden: bool) -> None:
    session = client.session
    sent = ", ".join(f"{p['method']} (MCP-Protocol-Version {p['protocol_version']})" for p in POSTS)
    print(f"# connect sent: {sent}")
    check(
        f"negotiated protocol version {MODERN} (no fallback to initialize)",
        client.protocol_version == MODERN,
        f"protocol_version is {client.protocol_version!r}; connect sent {[p['method'] for p in POSTS]}",
    )
    discover = session.discover_result
    check(
        "the session holds a server/discover result and no initialize result",
        discover is not None and session.initialize_result is None,
        f"discover_result {discover!r}, initialize_result {session.initialize_result!r}",
    )
    check(
        f"server/discover: supportedVersions includes {MODERN}",
        discover is not None and MODERN in discover.supported_versions,
        f"supported_versions {discover.supported_versions if discover else None!r}",
    )
    print(f"# server identifies as {client.server_info!r}; supportedVersions {discover.supported_versions if discover else None}")

    try:
        tools = await client.list_tools()
        names = [t.name for t in tools.tools]
        check("tools/list: has the echo tool", "echo" in names, f"tools {names}")
    except Exception as err:  # noqa: BLE001
        not_ok("tools/list: has the echo tool", describe(err))

    call_name = 'tools/call echo {message:"hi", repeat_count:2}'
    LAST_HTTP.update(status=None, www_authenticate=None)
    try:
        result = await client.call_tool("echo", {"message": "hi", "repeat_count": 2})
    except MCPError as err:
        if not forbidden:
            not_ok(call_name, describe(err))
        else:
            # What the SDK makes observable: its streamable HTTP transport turns a non-2xx answer
            # whose body is a JSON-RPC error (ours: 403 + application/json) into that error,
            # raised as MCPError; the status and WWW-Authenticate are dropped (a 403 without a
            # JSON-RPC body would become a synthetic code -32603 "Server returned an error
            # response"). No step-up is attempted without an httpx2 Auth (mcp.client.auth).
            # So: the MCPError must be our INSUFFICIENT_SCOPE error, and the HTTP layer (the
            # event hook) must have seen 403 + a Bearer insufficient_scope challenge.
            www = LAST_HTTP["www_authenticate"] or ""
            print(f"# tools/call: the SDK raised {redact(describe(err))}")
            print(f"# tools/call: HTTP {LAST_HTTP['status']}, WWW-Authenticate: {redact(www or '(none)')}")
            check(f"{call_name} is forbidden (HTTP 403)", LAST_HTTP["status"] == 403, f"last HTTP status {LAST_HTTP['status']}")
            check(
                f"{call_name} 403 carries a Bearer insufficient_scope challenge",
                bool(re.match(r"Bearer\b", www, re.I))
                and 'error="insufficient_scope"' in www
                and re.search(r'scope="[^"]+"', www) is not None,
                f"WWW-Authenticate was {www!r}",
            )
            data = err.error.data if isinstance(err.error.data, dict) else {}
            check(
                f"{call_name}: the SDK raises MCPError {INSUFFICIENT_SCOPE_CODE} naming the required scope mcp:tools",
                err.error.code == INSUFFICIENT_SCOPE_CODE and "mcp:tools" in (data.get("required_scope") or []),
                describe(err),
            )
    except Exception as err:  # noqa: BLE001
        not_ok(call_name, describe(err))
    else:
        if forbidden:
            not_ok(f"{call_name} is forbidden (HTTP 403)", f"call succeeded: {result!r}")
        else:
            texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
            check(f'{call_name}: content is one text item "hihi"', len(result.content) == 1 and texts == ["hihi"], f"content {result.content!r}")
            structured = result.structured_content
            check(
                f'{call_name}: structuredContent.text is "hihi"',
                isinstance(structured, dict) and structured.get("text") == "hihi",
                f"structuredContent {structured!r}",
            )
            check(f"{call_name}: isError is not true", result.is_error is not True, f"isError {result.is_error!r}")

    check(
        f"every POST carried MCP-Protocol-Version: {MODERN}",
        bool(POSTS) and all(p["protocol_version"] == MODERN for p in POSTS),
        f"POSTs {POSTS}",
    )
    check(
        "every POST carried an Mcp-Method header equal to its JSON-RPC method",
        bool(POSTS) and all(p["mcp_method"] == p["method"] for p in POSTS),
        f"POSTs {POSTS}",
    )
    check(
        "no initialize was sent",
        not any(p["method"] in ("initialize", "notifications/initialized") for p in POSTS),
        f"POSTs {[p['method'] for p in POSTS]}",
    )


if __name__ == "__main__":
    CHECKS.finish(main)
