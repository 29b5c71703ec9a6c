#!/usr/bin/env python3
"""The Rust the docs show is the Rust in src/: every excerpt is checked against a named anchor.

    scripts/doc_excerpts.py [PAGE.md ...]     # default: README.md and docs/*.md
    scripts/doc_excerpts.py --self-test       # one changed source line must fail, named page:line

In the source, a region is marked the way mdBook's {{#include file:name}} marks it, so a later
move to a book needs no change there:

    // ANCHOR: validation_settings
    ...the lines a page shows...
    // ANCHOR_END: validation_settings

In a page, the excerpt is written out (so it reads on GitHub and in any editor) right after a
directive that names its source:

    <!-- excerpt: src/auth/bearer_auth.rs#validation_settings -->
    ```rust
    ...the same lines...
    ```

Rules, each failure named PAGE:LINE:
- the block's lines equal the region's lines, with the region's common indentation removed and
  any ANCHOR marker lines inside it left out; trailing spaces are ignored;
- an excerpt is at most 40 lines (DESIGN.md: short, introduced by what to notice);
- a ```rust block in a step page (docs/stepNN-*.md) must be an excerpt: nothing shown can drift;
- every step page shows at least one excerpt.
Prints one line per page with its excerpts, then the failures with a diff, then
"N passed, M failed" (excerpts); exit status 0 when all match.
"""

import difflib
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 40
EXCERPT = re.compile(r"^<!--\s*excerpt:\s*(\S+?)#([A-Za-z0-9_]+)\s*-->\s*$")
ANCHOR = re.compile(r"^\s*//\s*ANCHOR:\s*([A-Za-z0-9_]+)\s*$")
ANCHOR_END = re.compile(r"^\s*//\s*ANCHOR_END:\s*([A-Za-z0-9_]+)\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*(\S*)")


def region(source, name):
    """The anchored lines of `name` in `source`, dedented, marker lines left out; None if absent."""
    lines = source.read_text(encoding="utf-8").split("\n")
    start = next((i for i, l in enumerate(lines) if (m := ANCHOR.match(l)) and m.group(1) == name), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines))
                if (m := ANCHOR_END.match(lines[i])) and m.group(1) == name), None)
    if end is None:
        return None
    body = [l.rstrip() for l in lines[start + 1:end] if not (ANCHOR.match(l) or ANCHOR_END.match(l))]
    indents = [len(l) - len(l.lstrip(" ")) for l in body if l.strip()]
    cut = min(indents, default=0)
    return [l[cut:] for l in body]


def excerpts(page):
    """(directive line, source, anchor, first block line, block lines) for each excerpt of the
    page, and the 1-based lines of ```rust blocks that no directive introduces."""
    lines = page.read_text(encoding="utf-8").split("\n")
    found, unchecked = [], []
    pending = None
    i = 0
    while i < len(lines):
        d = EXCERPT.match(lines[i])
        if d:
            pending = (i + 1, d.group(1), d.group(2))
            i += 1
            continue
        fence = FENCE.match(lines[i])
        if fence:
            marker, info = fence.group(1), fence.group(2)
            j = i + 1
            while j < len(lines) and not lines[j].startswith(marker):
                j += 1
            if pending:
                found.append((*pending, i + 2, [l.rstrip() for l in lines[i + 1:j]]))
                pending = None
            elif info == "rust":
                unchecked.append(i + 1)
            i = j + 1
            continue
        if lines[i].strip() and pending and not lines[i].startswith("<!--"):
            # Prose between the directive and its block: the directive belongs to no block.
            found.append((*pending, None, None))
            pending = None
        i += 1
    if pending:
        found.append((*pending, None, None))
    return found, unchecked


def check_page(page, root=ROOT):
    """(excerpts checked, failures) for one page; sources are looked up under `root`. Each
    failure names one excerpt, or the page itself (an unchecked block, no excerpt at all)."""
    rel = page.relative_to(root)
    found, unchecked = excerpts(page)
    failures = []
    step_page = rel.parts[0] == "docs" and re.match(r"step\d\d-", rel.name)
    for directive_line, source, name, first, block in found:
        where = f"{rel}:{directive_line}"
        if block is None:
            failures.append(f"{where}: the excerpt directive for {source}#{name} is not followed by a code block")
            continue
        path = root / source
        if not path.is_file():
            failures.append(f"{where}: {source} does not exist (excerpt {source}#{name})")
            continue
        want = region(path, name)
        if want is None:
            failures.append(f"{where}: {source} has no anchor {name} (// ANCHOR: {name} … // ANCHOR_END: {name})")
            continue
        if len(want) > MAX_LINES:
            failures.append(f"{where}: {source}#{name} is {len(want)} lines; an excerpt is at most {MAX_LINES}")
        if block != want:
            k = next((k for k in range(max(len(block), len(want)))
                      if k >= len(block) or k >= len(want) or block[k] != want[k]), 0)
            diff = "\n".join(difflib.unified_diff(block, want, "the page shows", f"{source}#{name} has", lineterm=""))
            failures.append(f"{rel}:{first + k}: excerpt differs from {source}#{name}\n{diff}")
    for line in unchecked if step_page else []:
        failures.append(f"{rel}:{line}: a rust block without an excerpt directive (<!-- excerpt: FILE#ANCHOR -->): it could drift")
    if step_page and not found:
        failures.append(f"{rel}: a step page shows no Rust excerpt checked against the source")
    return len(found), failures


def run(pages, root=ROOT, quiet=False):
    total, failures = 0, []
    for page in pages:
        n, f = check_page(page, root)
        total += n
        failures += f
        if n and not quiet:
            print(f"{page.relative_to(root)}: {n} excerpts: {'ok' if not f else f'{len(f)} failed'}")
        elif f and not quiet:
            print(f"{page.relative_to(root)}: {len(f)} failed")
    return total, failures


def self_test():
    """Copies the step 6 page and the sources it quotes, changes one line inside the first
    excerpt's region in the copy of its source, and expects exactly that excerpt to fail, named
    page:line at the changed line."""
    page = ROOT / "docs" / "step06-jwt-middleware.md"
    found, _ = excerpts(page)
    if not found:
        print("self-test: FAILED: docs/step06-jwt-middleware.md has no excerpt")
        return 1
    _, source, name, first, block = found[0]
    copy_root = ROOT / "target" / "doc-excerpts-self-test"
    shutil.rmtree(copy_root, ignore_errors=True)
    for _, s, _, _, _ in found:
        (copy_root / s).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / s, copy_root / s)
    (copy_root / "docs").mkdir(parents=True, exist_ok=True)
    shutil.copy(page, copy_root / "docs" / page.name)
    src = copy_root / source
    lines = src.read_text(encoding="utf-8").split("\n")
    start = next(i for i, l in enumerate(lines) if (m := ANCHOR.match(l)) and m.group(1) == name)
    k = next(k for k, l in enumerate(block) if l.strip())  # the first non-blank excerpt line
    target = next(i for i in range(start + 1, len(lines)) if lines[i].strip() and not ANCHOR.match(lines[i]))
    lines[target] = lines[target] + " // changed by the self-test"
    src.write_text("\n".join(lines), encoding="utf-8")
    n, failures = check_page(copy_root / "docs" / page.name, copy_root)
    named = f"docs/{page.name}:{first + k}: excerpt differs from {source}#{name}"
    ok = len(failures) == 1 and failures[0].startswith(named) and "changed by the self-test" in failures[0]
    print(f"self-test: {n} excerpts checked on a copy of docs/{page.name} with {source} line {target + 1} changed")
    print(f"self-test: {'ok' if ok else 'FAILED'}: expected exactly one failure, named {named!r}; got {len(failures)}")
    for f in failures:
        print(f)
    return 0 if ok else 1


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    pages = [Path(a).resolve() for a in argv] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    total, failures = run(pages)
    for f in failures:
        print()
        print(f)
    # A failure either names an excerpt (counted among `total`) or a page-level fault.
    failed_excerpts = sum(1 for f in failures if " excerpt" in f.split(": ", 1)[1][:40]
                          and "no Rust excerpt" not in f and "without an excerpt directive" not in f)
    print()
    print(f"{total - failed_excerpts} passed, {len(failures)} failed (excerpts, and pages without one)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
