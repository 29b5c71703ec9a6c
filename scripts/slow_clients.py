#!/usr/bin/env python3
"""Slow and stuck HTTP clients for the connection-limit tests (scripts/test_step1.sh, test_step2.sh,
test_step8.sh). Each mode opens real TCP connections to 127.0.0.1:PORT, misbehaves in one way, and
prints one JSON line saying what the server did and when. Every mode is bounded in time.

  slow_clients.py PORT headers          send half a request's headers, then nothing
  slow_clients.py PORT idle             one full request, read the answer, then stay idle
  slow_clients.py PORT body             POST /mcp with Content-Length 100, send 10 bytes, wait
  slow_clients.py PORT reader N TOKEN   pipeline N 64 KiB echo calls on one connection, read nothing
  slow_clients.py PORT load C N TOKEN   C such reader connections at once (C threads)
  slow_clients.py PORT hold C           open C idle connections and hold them (prints when done)
"""
import json
import socket
import sys
import threading
import time

PORT = int(sys.argv[1])
MODE = sys.argv[2]
LIMIT = 40.0  # seconds: no mode waits longer


def connect(rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(LIMIT)
    s.connect(("127.0.0.1", PORT))
    return s


def wait_closed(s, started):
    """Reads until the server closes; returns (seconds since started, bytes read, first line)."""
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout) as e:
        if isinstance(e, socket.timeout):
            return {"closed": False, "after_s": round(time.monotonic() - started, 2), "bytes": len(data)}
    first = data.split(b"\r\n", 1)[0].decode("latin-1") if data else ""
    return {"closed": True, "after_s": round(time.monotonic() - started, 2), "bytes": len(data), "first_line": first}


def echo_request(token, message_bytes, rid):
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                       "params": {"name": "echo", "arguments": {"message": "a" * message_bytes}}})
    head = ("POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Accept: application/json\r\nMCP-Protocol-Version: 2025-11-25\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token and token != "-" else "")
            + f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body.encode()


def reader(n, token, out, index):
    """Pipelines n largest-allowed echo calls and reads nothing for a while, then drains."""
    s = connect(rcvbuf=4096)
    started = time.monotonic()
    sent = 0
    try:
        s.settimeout(2.0)
        for i in range(n):
            s.sendall(echo_request(token, 65536, i))
            sent += 1
    except (socket.timeout, BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(LIMIT)
    time.sleep(float(sys.argv[-1]) if MODE == "reader" and len(sys.argv) > 5 else 0)
    result = wait_closed(s, started)
    result["sent"] = sent
    result["answers"] = None
    out[index] = result


if MODE == "headers":
    s = connect()
    started = time.monotonic()
    s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
    print(json.dumps(wait_closed(s, started)))
elif MODE == "idle":
    s = connect()
    s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    first = s.recv(65536)
    started = time.monotonic()
    result = wait_closed(s, started)
    result["answered"] = first.split(b"\r\n", 1)[0].decode("latin-1")
    print(json.dumps(result))
elif MODE == "body":
    s = connect()
    started = time.monotonic()
    s.sendall(b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n{\"jsonrpc\"")
    result = wait_closed(s, started)
    print(json.dumps(result))
elif MODE == "reader":
    n, token = int(sys.argv[3]), sys.argv[4]
    out = [None]
    reader(n, token, out, 0)
    print(json.dumps(out[0]))
elif MODE == "load":
    c, n, token = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    out = [None] * c
    threads = [threading.Thread(target=reader, args=(n, token, out, i)) for i in range(c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LIMIT + 5)
    print(json.dumps({"connections": c, "closed": sum(1 for r in out if r and r["closed"]),
                      "max_after_s": max((r["after_s"] for r in out if r), default=None),
                      "sent": sum(r["sent"] for r in out if r)}))
elif MODE == "hold":
    c = int(sys.argv[3])
    socks = [connect() for _ in range(c)]
    time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 3)
    for s in socks:
        s.close()
    print(json.dumps({"held": c}))
else:
    sys.exit(f"unknown mode {MODE}")
