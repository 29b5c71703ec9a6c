#!/usr/bin/env python3
"""A loopback forwarder that adds a bearer token: lets a test tool that cannot send one (the MCP
conformance suite in server mode) reach a server that requires one (step 8).

    token_forwarder.py --target http://127.0.0.1:PORT [--port 0]   (token from env FORWARD_TOKEN)

Listens on 127.0.0.1, prints `listening on http://127.0.0.1:PORT` once bound, and forwards every
request to the target unchanged (method, path, body, every header, Host and Origin included, so
the target's Host/Origin guard sees what the client sent) except that `Authorization: Bearer
<token>` is set. The answer comes back unchanged (status, headers, body). Prints nothing per
request and never prints the token. Stops on SIGTERM or SIGINT.
"""
import argparse
import http.client
import os
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True, help="http://127.0.0.1:PORT of the server")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    token = os.environ.get("FORWARD_TOKEN", "")
    if not token:
        sys.exit("token_forwarder.py: FORWARD_TOKEN is not set")
    target = urllib.parse.urlsplit(args.target)
    if target.scheme != "http" or target.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"token_forwarder.py: --target must be http on loopback, not {args.target!r}")

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "authorization":
                    conn.putheader(name, value)
            conn.putheader("Authorization", f"Bearer {token}")
            conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body)
            answer = conn.getresponse()
            data = answer.read()
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_DELETE = do_OPTIONS = do_PUT = do_PATCH = forward

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Forward)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    stop = lambda *_: threading.Thread(target=server.shutdown).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
