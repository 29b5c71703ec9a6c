"""What the Python interop clients (py_client.py, py_oauth_client.py) share, as harness.mjs is for
the TypeScript ones: the check lines ("ok - ..." / "not ok - ..."), every line passed through the
script's own redaction, errors as one line, and the totals and exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError

try:
    _GROUP: type[BaseException] = BaseExceptionGroup  # Python 3.11+
except NameError:  # Python 3.10: anyio's backport
    from exceptiongroup import BaseExceptionGroup as _GROUP  # type: ignore[no-redef]


class Usage(argparse.ArgumentParser):
    """A parser whose usage errors exit 2, like the Node clients', and name the script."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog.removesuffix('.py')}: {message}", file=sys.stderr)
        sys.exit(2)


def describe(err: BaseException) -> str:
    """An error as one line: its class, and for an MCP error its code, message and data."""
    if isinstance(err, _GROUP):
        return f"{type(err).__name__}[" + "; ".join(describe(e) for e in err.exceptions) + "]"
    if isinstance(err, MCPError):
        return f"MCPError code={err.error.code} message={err.error.message!r} data={err.error.data!r}"
    return f"{type(err).__name__}: {err}"


class Checks:
    """The check lines of one run; every printed line goes through `redact` first."""

    def __init__(self, redact: Callable[[Any], str]) -> None:
        self.redact = redact
        self.passed = 0
        self.failed = 0

    def say(self, line: str) -> None:
        print(self.redact(line), flush=True)

    def ok(self, name: str) -> None:
        self.passed += 1
        self.say(f"ok - {name}")

    def not_ok(self, name: str, why: Any) -> None:
        self.failed += 1
        self.say(f"not ok - {name}: {why}")

    def check(self, name: str, cond: Any, why: Any) -> bool:
        if cond:
            self.ok(name)
        else:
            self.not_ok(name, why)
        return bool(cond)

    def finish(self, main: Callable[[], Awaitable[None]], cleanup: Callable[[], None] | None = None) -> None:
        """Runs `main`, counts an exception as a failed check (never a traceback, which could hold
        a token), runs `cleanup`, prints the totals and exits: 0 when every check passed (and
        there was one), 1 otherwise."""
        try:
            anyio.run(main)
        except BaseException as err:  # noqa: BLE001 - report, never a traceback with a token in it
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                raise
            self.not_ok("unexpected error", describe(err))
        finally:
            if cleanup is not None:
                cleanup()
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed > 0 or self.passed == 0 else 0)
