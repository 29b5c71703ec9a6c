#!/usr/bin/env python3
"""Runs every command the docs show, and compares what it prints with what the page says.

    scripts/doc_test.py [PAGE.md ...]      # default: README.md and docs/*.md
    scripts/doc_test.py --self-test        # a wrong expected line must fail, named by page:line

A *command block* is a fenced block (any info string) with lines that start with "$ ". Each such
line is a command (continued on the next line while it ends with a backslash); the lines up to the
next command are what it prints (stdout and stderr together). The commands of one page run in
one bash session, in page order, from the repository root, so a variable set in one block is
there in the next, as in a reader's terminal.

What the expected output may say, besides the literal text (see README "The docs are tests"):
  [..]     on a line: any text within that line (a time, a token, an id, a latency)
  ...      a line of its own: any number of lines, none included
The answer's `date:` header line (curl -i) is left out of the listings, so it is dropped from
what a command prints unless the page shows one. Trailing spaces, CR and trailing blank lines are
ignored.

Directives, HTML comments that readers do not see:
  <!-- doc-test: server CMD -->   before a page's first command: starts CMD (e.g.
                                  "target/debug/step2") in the background, its stderr into
                                  $DOC_TEST_LOG unless CMD redirects it (2>FILE), its stdout
                                  nowhere, waits until http://localhost:9000/health
                                  answers, and stops it (by PID) when the page ends.
  <!-- doc-test: skip WHY -->     the next command block is not run (WHY is listed).
  <!-- doc-test: stop-server -->  stops the page's server here (a later "server" starts another).

Prints per page the commands run and the blocks skipped; a difference is reported as
"PAGE:LINE: output differs" (LINE: the first expected line that does not match, or the command's
line when "..." makes that ambiguous) with the command and a diff. Exit status 0 when every command printed what its page says.
"""

import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND_TIMEOUT = 120
DIRECTIVE = re.compile(r"^<!--\s*doc-test:\s*(\S+)\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)(.*)$")


class Command:
    def __init__(self, line, text, expected):
        self.line = line  # 1-based line of the "$ " in the page
        self.text = text
        self.expected = expected  # list of lines


class Block:
    def __init__(self, line, commands, skip):
        self.line = line
        self.commands = commands
        self.skip = skip  # None or the reason


def parse(path):
    """The page's command blocks and directives, in order: ("block", Block) / (directive, arg)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    items = []
    pending_skip = None
    i = 0
    while i < len(lines):
        line = lines[i]
        d = DIRECTIVE.match(line)
        if d:
            name, arg = d.group(1), d.group(2)
            if name == "skip":
                pending_skip = arg or "(no reason given)"
            elif name in ("server", "stop-server"):
                items.append((name, arg))
            else:
                raise SystemExit(f"{path}:{i + 1}: unknown doc-test directive {name!r}")
            i += 1
            continue
        fence = FENCE.match(line)
        if not fence:
            i += 1
            continue
        marker = fence.group(1)
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].startswith(marker):
            j += 1
        body = lines[start:j]
        commands = split_commands(body, start + 1)
        if commands:
            items.append(("block", Block(start, commands, pending_skip)))
            pending_skip = None
        i = j + 1
    return items


def split_commands(body, first_line):
    commands = []
    k = 0
    while k < len(body):
        if not body[k].startswith("$ "):
            if not commands:
                return []  # output before any command: not a command block
            k += 1
            continue
        line_no = first_line + k
        text = [body[k][2:]]
        while (text[-1].endswith("\\") or incomplete("\n".join(text))) and k + 1 < len(body):
            k += 1
            text.append(body[k])
        k += 1
        expected = []
        while k < len(body) and not body[k].startswith("$ "):
            expected.append(body[k])
            k += 1
        commands.append(Command(line_no, "\n".join(text), expected))
        commands[-1].output_line = line_no + len(text)
    return commands


def incomplete(text):
    """True while `text` is the start of a longer command: an open quote (bash -n sees EOF)."""
    check = subprocess.run(["bash", "-n", "-c", text], capture_output=True, text=True)
    return "unexpected end of file" in check.stderr or "unexpected EOF" in check.stderr


class Session:
    """One bash process for a page, fed one command at a time."""

    def __init__(self, env):
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )

    def run(self, text):
        marker = f"__doc_test_{uuid.uuid4().hex}__"
        script = f"{text}\nprintf '%s %s\\n' {marker} \"$?\"\n"
        try:
            self.proc.stdin.write(script.encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            return "", "the shell exited"
        out = b""
        deadline = time.monotonic() + COMMAND_TIMEOUT
        needle = marker.encode()
        while needle not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                return out.decode(errors="replace"), "timed out"
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return out.decode(errors="replace"), "the shell exited"
                out += chunk
        before = out[: out.index(needle)]
        return before.decode(errors="replace"), None

    def close(self):
        # The session's background jobs (a page may start a server with "&") go with it.
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Server:
    def __init__(self, command, env, log):
        stderr = "" if "2>" in command else f" 2>>{log}"
        self.proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}{stderr} >/dev/null"],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{command!r} exited with {self.proc.returncode}; see {log}")
            try:
                with urllib.request.urlopen("http://127.0.0.1:9000/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{command!r}: nothing answered on http://127.0.0.1:9000/health in 30 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def line_matches(expected, actual):
    if "[..]" not in expected:
        return expected == actual
    parts = [re.escape(p) for p in expected.split("[..]")]
    return re.fullmatch(".*".join(parts), actual, re.DOTALL) is not None


def matches(expected, actual):
    """Expected lines (with [..] and ...) against actual lines."""
    if not expected:
        return not actual
    head = expected[0]
    if head == "...":
        rest = expected[1:]
        return any(matches(rest, actual[k:]) for k in range(len(actual) + 1))
    return bool(actual) and line_matches(head, actual[0]) and matches(expected[1:], actual[1:])


def first_difference(command, expected, actual):
    """The page line of the first expected line that does not match (the command's line when
    `...` makes that ambiguous)."""
    if "..." in expected:
        return command.line
    for i, want in enumerate(expected):
        if i >= len(actual) or not line_matches(want, actual[i]):
            return command.output_line + i
    return command.output_line + len(expected)


def normalize(text, expected):
    lines = [l.rstrip("\r").rstrip() for l in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    shows_date = any(l.lower().startswith("date:") for l in expected)
    if not shows_date:
        lines = [l for l in lines if not l.lower().startswith("date: ")]
    return lines


def trim(expected):
    out = [l.rstrip() for l in expected]
    while out and out[-1] == "":
        out.pop()
    return out


def port_9000_free():
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", 9000)) != 0


def run_page(path, env):
    items = parse(path)
    rel = path.relative_to(ROOT)
    blocks = [b for kind, b in items if kind == "block"]
    if not blocks:
        return 0, 0, 0, []
    failures = []
    run = skipped = 0
    log = Path(env["DOC_TEST_LOG"])
    log.write_text("")
    session = Session(env)
    server = None
    try:
        for kind, item in items:
            if kind == "server":
                if server:
                    server.stop()
                if not port_9000_free():
                    failures.append(f"{rel}: port 9000 is taken before the page's server starts")
                    return run, skipped, len(blocks), failures
                server = Server(item, env, log)
                continue
            if kind == "stop-server":
                if server:
                    server.stop()
                    server = None
                continue
            block = item
            if block.skip:
                skipped += 1
                print(f"  skip {rel}:{block.line}: {block.skip}")
                continue
            for command in block.commands:
                actual_text, problem = session.run(command.text)
                if problem:
                    # A command that ends the shell or hangs: the next ones get a new shell.
                    session.close()
                    session = Session(env)
                run += 1
                expected = trim(command.expected)
                actual = normalize(actual_text, expected)
                if problem or not matches(expected, actual):
                    import difflib

                    diff = "\n".join(
                        difflib.unified_diff(
                            expected, actual, "the page says", "the command printed", lineterm=""
                        )
                    )
                    why = f" ({problem})" if problem else ""
                    line = first_difference(command, expected, actual)
                    failures.append(
                        f"{rel}:{line}: output differs{why}\n  $ {command.text}\n{diff}"
                    )
    finally:
        if server:
            server.stop()
        session.close()
    return run, skipped, len(blocks), failures


def environment():
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"doc-test.{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["DOC_TEST_LOG"] = str(work / "server.log")
    env.pop("RUST_LOG", None)
    env["NO_COLOR"] = "1"
    return env


def self_test(env):
    """Copies the step 2 page with one expected line made wrong; the run must fail there only."""
    source = ROOT / "docs" / "step02-jsonrpc-lifecycle.md"
    lines = source.read_text(encoding="utf-8").split("\n")
    target = next(i for i, l in enumerate(lines) if l.startswith('{"id":1,"jsonrpc":"2.0","result":{"_meta"'))
    lines[target] = lines[target].replace('"resultType":"complete"', '"resultType":"partial"')
    copy_dir = ROOT / "target" / "doc-test-self-test"
    copy_dir.mkdir(parents=True, exist_ok=True)
    copy = copy_dir / source.name
    copy.write_text("\n".join(lines), encoding="utf-8")
    run, _, _, failures = run_page(copy, env)
    named = f"{copy.relative_to(ROOT)}:{target + 1}: output differs"
    ok = len(failures) == 1 and failures[0].startswith(named) and '"resultType":"partial"' in failures[0]
    print(f"self-test: {run} commands run on a copy of {source.relative_to(ROOT)} with line {target + 1} made wrong")
    print(f"self-test: {'ok' if ok else 'FAILED'}: expected exactly one failure, named {named!r}; got {len(failures)}")
    for f in failures:
        print(f)
    return 0 if ok else 1


def main(argv):
    if argv == ["--self-test"]:
        return self_test(environment())
    pages = [Path(a).resolve() for a in argv] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    env = environment()
    total_run = total_skipped = 0
    all_failures = []
    for page in pages:
        if not port_9000_free():
            print(f"port 9000 is taken: the docs' commands talk to http://localhost:9000; stop what listens there")
            return 1
        run, skipped, blocks, failures = run_page(page, env)
        if blocks:
            status = "ok" if not failures else f"{len(failures)} differ"
            print(f"{page.relative_to(ROOT)}: {run} commands in {blocks - skipped} blocks run, {skipped} blocks skipped: {status}")
        total_run += run
        total_skipped += skipped
        all_failures += failures
    for f in all_failures:
        print()
        print(f)
    print()
    print(f"{total_run - len(all_failures)} passed, {len(all_failures)} failed ({total_skipped} blocks skipped)")
    return 1 if all_failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
