"""mcp-remote (npm, pinned in package.json) as an MCP host would run it: a stdio proxy to a remote
MCP server that does the OAuth flow itself. This script is the host's side of the pipe: it starts
the proxy, writes initialize, notifications/initialized, tools/list and tools/call echo on its
stdin, one at a time, reads the answers from its stdout, and keeps stdin open until the last
answer is in (the proxy exits at once when stdin closes).

    mcp_remote_client.py --url http://localhost:9000/mcp --message TEXT [--timeout 150]

The proxy finds the authorization server, registers itself (RFC 7591, with its own client_uri on
github.com), opens the browser through $BROWSER (set it to scripts/browser/login.mjs, with DISPLAY
unset so that the `open` package's xdg-open uses $BROWSER), and waits on its loopback callback.
Its state goes to $MCP_REMOTE_CONFIG_DIR. Prints check lines ("ok - ..." / "not ok - ..."), a few
of the proxy's own stderr lines (redacted) as "# ..." lines, then "N passed, M failed"; exits 0
when every check passed.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import anyio
from anyio.streams.text import TextReceiveStream

from py_harness import Checks, Usage

HERE = Path(__file__).resolve().parent
PROXY = HERE / "node_modules" / "mcp-remote" / "dist" / "proxy.js"
NODE = HERE / "node_modules" / ".bin" / "node"


def redact(line: object) -> str:
    text = str(line)
    text = re.sub(r"eyJ[A-Za-z0-9_-]{10,}(\.[A-Za-z0-9_-]*){0,2}", "eyJhbG…", text)
    text = re.sub(r"((?:code|state|code_verifier|code_challenge|refresh_token|access_token)(?:=|\": ?\"))([A-Za-z0-9._~+/-]{6})[A-Za-z0-9._~+/=-]+",
                  r"\1\2…", text)
    return text


def main() -> None:
    p = Usage(prog="mcp_remote_client.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--message", required=True)
    p.add_argument("--timeout", type=float, default=150.0)
    args = p.parse_args()
    checks = Checks(redact)
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "mcp-remote-host", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "echo", "arguments": {"message": args.message}}},
    ]
    answers: dict[int, dict] = {}
    stderr_lines: list[str] = []

    async def run() -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP")}
        async with await anyio.open_process([str(NODE), str(PROXY), args.url], env=env) as proc:
            assert proc.stdin and proc.stdout and proc.stderr
            arrived = anyio.Event()

            async def read_stdout() -> None:
                buffer = ""
                async for chunk in TextReceiveStream(proc.stdout):
                    buffer += chunk
                    while "\n" in buffer:
                        line, buffer = buffer.split("\n", 1)
                        try:
                            msg = json.loads(line)
                        except ValueError:
                            continue
                        if isinstance(msg.get("id"), int):
                            answers[msg["id"]] = msg
                            arrived.set()

            async def read_stderr() -> None:
                async for chunk in TextReceiveStream(proc.stderr):
                    stderr_lines.extend(chunk.splitlines())

            async with anyio.create_task_group() as tg:
                tg.start_soon(read_stdout)
                tg.start_soon(read_stderr)
                # One message at a time, each request only once the one before is answered (the
                # first waits for the whole OAuth flow).
                with anyio.move_on_after(args.timeout):
                    for m in messages:
                        await proc.stdin.send((json.dumps(m) + "\n").encode())
                        while "id" in m and m["id"] not in answers:
                            await arrived.wait()
                            arrived = anyio.Event()
                await proc.stdin.aclose()
                with anyio.move_on_after(10):
                    await proc.wait()
                if proc.returncode is None:
                    proc.terminate()
                tg.cancel_scope.cancel()

    async def body() -> None:
        await run()
        for wanted in ("Please authorize this client by visiting:", "Authorizing with the scope",
                       "Auth code received", "Connected to remote server", "Proxy established"):
            for line in stderr_lines:
                if wanted in line:
                    checks.say(f"# mcp-remote: {line.strip()[:300]}")
                    break
        init = answers.get(1, {})
        checks.check("initialize through the proxy → " + json.dumps(init.get("result", {}).get("serverInfo", {})),
                     init.get("result", {}).get("protocolVersion") == "2025-11-25",
                     json.dumps(init)[:300] or "no answer")
        tools = [t.get("name") for t in answers.get(2, {}).get("result", {}).get("tools", [])]
        checks.check(f"tools/list: {', '.join(tools)}", "echo" in tools, json.dumps(answers.get(2))[:300])
        result = answers.get(3, {}).get("result", {})
        text = (result.get("content") or [{}])[0].get("text")
        checks.check(f"tools/call echo {{\"message\": \"{args.message}\"}} → {json.dumps(text)}",
                     text == args.message and result.get("isError") is False,
                     json.dumps(answers.get(3))[:300] if 3 in answers else f"no answer within {args.timeout:.0f} s")

    checks.finish(body)


if __name__ == "__main__":
    main()
