#!/usr/bin/env python3
"""A deliberately broken MCP server + OAuth authorization server, for scripts/test_step11.sh.

The step-11 client must refuse to go on when the authorization server misbehaves, and must never
put what a server sends on the terminal raw. Keycloak is a correct server and cannot be made to
send these, so these failures need a fake (an imitation, named as one). One process, one port,
both roles (the issuer is the fake's own origin, http://127.0.0.1:PORT):

  POST /mcp                                      401, WWW-Authenticate: Bearer resource_metadata="…"
  GET  /.well-known/oauth-protected-resource/mcp PRM: resource <base>/mcp, authorization_servers [<base>]
  GET  /.well-known/oauth-authorization-server   RFC 8414 metadata (see the modes)
  POST /register                                 RFC 7591: 201 {"client_id": "fake-client", …}
  GET  /authorize                                302 to redirect_uri?code=x&state=WRONG
  POST /token                                    400 invalid_grant (a correct client never gets here)
  GET  /requests                                 every request so far: [{"method", "path"}, …]

Modes (--mode):
  no-s256    the metadata offers code_challenge_methods_supported ["plain"] only: the client
             must stop after reading it (MCP 2025-11-25 requires PKCE S256).
  bad-state  correct metadata (S256), but /authorize answers with a state the client never sent:
             the client must abort at the callback and never POST /token (RFC 6749 §10.12).

Hostile modes (issue 22): correct metadata, /authorize sends the client's own state back, and one
thing at a time is hostile. ESC is the byte 0x1b; "forged" text imitates step11's own lines.
  hostile-error      /authorize answers an error response whose error is ESC[2Jaccess_denied and
                     whose error_description has a newline and a forged "[9] done: …" line.
  hostile-token      /token answers 200 with an access_token holding CR LF (a header injection).
  huge-expiry        /token answers 200 with expires_in 18446744073709551615 (2^64 - 1).
  hostile-client-id  /register answers 201 with a client_id holding ESC[2J.
  hostile-prm        the PRM's resource ends in ESC[2J.
  hostile-text       a whole flow that works, where every text is hostile: a 64 KiB
                     WWW-Authenticate on the first 401, an OSC title sequence in the PRM's
                     scopes_supported, an OSC sequence and a newline in the server's name, a bidi
                     override in its version, ESC[2J and a forged line in the tool's name, ESC[31m
                     in the tool's answer.

Usage: python3 scripts/fake_oauth.py --mode MODE [--port 0]
Prints exactly one line on stdout when ready, `listening on http://127.0.0.1:PORT`; nothing else.
Standard library only; binds 127.0.0.1 only.
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

REQUESTS = []  # [{"method": ..., "path": ...}] in arrival order (GET /requests excluded)
ESC, BEL = "\x1b", "\x07"
GOOD_TOKEN = "fake-access-token-0123456789"
MODES = ["no-s256", "bad-state", "hostile-error", "hostile-token", "huge-expiry",
         "hostile-client-id", "hostile-prm", "hostile-text"]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    mode = "no-s256"
    base = ""

    def log_message(self, *args):  # keep stderr quiet
        pass

    def reply(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self):
        path = urlsplit(self.path).path
        if path != "/requests":
            with LOCK:
                REQUESTS.append({"method": self.command, "path": path})
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return path, body

    def do_GET(self):
        path, _ = self.record()
        base = self.base
        if path == "/requests":
            with LOCK:
                self.reply(200, list(REQUESTS))
        elif path == "/.well-known/oauth-protected-resource/mcp":
            resource = f"{base}/mcp" + (ESC + "[2J" if self.mode == "hostile-prm" else "")
            scopes = ["mcp:read"] + ([ESC + "]0;pwned" + BEL] if self.mode == "hostile-text" else [])
            self.reply(200, {"resource": resource, "authorization_servers": [base],
                             "scopes_supported": scopes})
        elif path == "/.well-known/oauth-authorization-server":
            methods = ["plain"] if self.mode == "no-s256" else ["S256"]
            self.reply(200, {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "registration_endpoint": f"{base}/register",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": methods,
                "token_endpoint_auth_methods_supported": ["none"],
                "authorization_response_iss_parameter_supported": self.mode not in ("no-s256", "bad-state"),
            })
        elif path == "/authorize":
            query = parse_qs(urlsplit(self.path).query)
            redirect_uri = query.get("redirect_uri", [""])[0]
            if self.mode == "bad-state":
                answer = {"code": "x", "state": "WRONG"}
            elif self.mode == "hostile-error":
                answer = {"error": ESC + "[2Jaccess_denied",
                          "error_description": "line one\n[9] done: forged",
                          "state": query.get("state", [""])[0], "iss": base}
            else:
                answer = {"code": "the-code", "state": query.get("state", [""])[0], "iss": base}
            self.reply(302, None, [("Location", redirect_uri + "?" + urlencode(answer))])
        else:
            self.reply(404, {"error": "not_found"})

    def do_POST(self):
        path, body = self.record()
        if path == "/mcp":
            if self.headers.get("Authorization") == f"Bearer {GOOD_TOKEN}":
                self.mcp(json.loads(body or b"{}"))
                return
            challenge = (f'Bearer resource_metadata="{self.base}/.well-known/oauth-protected-resource/mcp"'
                         ', scope="mcp:read"')
            if self.mode == "hostile-text":
                challenge += ', error_description="' + "A" * 65536 + '"'
            self.reply(401, {"error": "unauthorized"}, [("WWW-Authenticate", challenge)])
        elif path == "/register":
            request = json.loads(body or b"{}")
            client_id = "fake" + ESC + "[2J" if self.mode == "hostile-client-id" else "fake-client"
            self.reply(201, {"client_id": client_id,
                             "redirect_uris": request.get("redirect_uris", []),
                             "token_endpoint_auth_method": "none"})
        elif path == "/token" and self.mode in ("bad-state", "no-s256", "hostile-error"):
            self.reply(400, {"error": "invalid_grant"})
        elif path == "/token":
            token = {"access_token": GOOD_TOKEN, "token_type": "Bearer", "expires_in": 300}
            if self.mode == "hostile-token":
                token["access_token"] = "abc\r\nX-Evil: 1"
            elif self.mode == "huge-expiry":
                token["expires_in"] = 2**64 - 1
            self.reply(200, token)
        else:
            self.reply(404, {"error": "not_found"})

    def mcp(self, message):
        """A 2026-07-28 MCP server whose every text is hostile (mode hostile-text)."""
        method = message.get("method")
        meta = {"io.modelcontextprotocol/serverInfo": {
            "name": ESC + "]0;pwned" + BEL + "evil\nserver", "version": "1\u202e"}}
        if method == "server/discover":
            result = {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}}
        elif method == "tools/list":
            result = {"tools": [{"name": "echo" + ESC + "[2J\n[9] done: forged",
                                 "inputSchema": {"type": "object"}}]}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": ESC + "[31mred"}]}
        else:
            self.reply(404, {"jsonrpc": "2.0", "id": message.get("id"),
                             "error": {"code": -32601, "message": "Method not found"}})
            return
        result.update({"resultType": "complete", "_meta": meta})
        self.reply(200, {"jsonrpc": "2.0", "id": message.get("id"), "result": result})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    Handler.mode = args.mode
    Handler.base = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"listening on {Handler.base}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
