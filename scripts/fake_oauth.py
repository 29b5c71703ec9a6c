#!/usr/bin/env python3
"""A deliberately broken MCP server + OAuth authorization server, for scripts/test_step11.sh.

The step-11 client must refuse to go on when the authorization server misbehaves. Keycloak is a
correct server and cannot be made to send these, so these failures need a fake. One process, one port, both roles
(the issuer is the fake's own origin, http://127.0.0.1:PORT):

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

Usage: python3 scripts/fake_oauth.py --mode no-s256|bad-state [--port 0]
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
            self.reply(200, {"resource": f"{base}/mcp", "authorization_servers": [base],
                             "scopes_supported": ["mcp:read"]})
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
            })
        elif path == "/authorize":
            query = parse_qs(urlsplit(self.path).query)
            redirect_uri = query.get("redirect_uri", [""])[0]
            location = redirect_uri + "?" + urlencode({"code": "x", "state": "WRONG"})
            self.reply(302, None, [("Location", location)])
        else:
            self.reply(404, {"error": "not_found"})

    def do_POST(self):
        path, body = self.record()
        if path == "/mcp":
            challenge = (f'Bearer resource_metadata="{self.base}/.well-known/oauth-protected-resource/mcp"'
                         ', scope="mcp:read"')
            self.reply(401, {"error": "unauthorized"}, [("WWW-Authenticate", challenge)])
        elif path == "/register":
            request = json.loads(body or b"{}")
            self.reply(201, {"client_id": "fake-client",
                             "redirect_uris": request.get("redirect_uris", []),
                             "token_endpoint_auth_method": "none"})
        elif path == "/token":
            self.reply(400, {"error": "invalid_grant"})
        else:
            self.reply(404, {"error": "not_found"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["no-s256", "bad-state"], required=True)
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
