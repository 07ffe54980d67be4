#!/usr/bin/env python3
"""References in the documentation to files that are not in the repository.

Checked in README.md and docs/*.md (links also in every other Markdown file of the tree):
  - relative Markdown links `[text](path#anchor)`: the path exists, relative to the page; an
    anchor names a heading of the page it points to;
  - repository paths, in backticks or not: a word starting with a top-level folder
    (`services/x/src/y.rs`, `deploy/k8s/`, `crates/*`) names something that exists (`*` and
    `<placeholder>` match anything); quoted strings are example data, not references;
  - shorter paths in backticks (`tests/it/postmortems.rs`, `repo/logs.rs::tail`, `main.rs`,
    `SECURITY.md`): some file of the tree ends with that path;
  - no mention of the design documents the project started from ("seed 003", "the seed's"):
    they are not in the repository, the pages say what Runbooks does on their own.
Exit 1 naming each broken reference as file:line.

Usage: doclinks.py [ROOT]   (default: the repository this script is in)
"""

import os
import pathlib
import re
import sys

# Folders never read: build output, the demo's run directory, version control, tool caches.
SKIP_DIRS = {".git", "target", ".runbooks", "node_modules", "__pycache__", ".venv"}
TOP = ("crates", "services", "deploy", "docs", "migrations", "e2e", "tools", ".github", ".ci", ".config")
# A short path in backticks is a file name when it ends like one of these.
FILE_EXT = ("rs", "sql", "md", "toml", "yaml", "yml", "sh", "py", "ndjson")

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE = re.compile(r"`([^`\n]+)`")
REPO_PATH = re.compile(
    r"(?<![\w./~:@$<>\"'-])((?:" + "|".join(re.escape(t) for t in TOP) + r")/[\w./*<>-]*)"
)
SHORT_PATH = re.compile(r"^[\w.<>*-]+(?:/[\w.<>*-]+)*\.(?:" + "|".join(FILE_EXT) + r")$")
OUTSIDE = re.compile(r"\b(?:seeds? `?\d{3}`?|the seed's)", re.I)
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def tree_files(root: pathlib.Path):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        rel = pathlib.Path(dirpath).relative_to(root)
        out.extend((rel / f).as_posix() for f in filenames)
    return out


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: pathlib.Path):
    found, in_fence = set(), False
    for line in path.read_text(errors="replace").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else HEADING.match(line)
        if m:
            base = slug(m.group(1))
            n, name = 0, base
            while name in found:
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def exists(root: pathlib.Path, rel: str) -> bool:
    pattern = re.sub(r"<[^>]*>", "*", rel).rstrip("/")
    if "*" in pattern:
        return any(True for _ in root.glob(pattern))
    return (root / pattern).exists()


def check_links(root, page, lines, problems):
    in_fence = False
    for no, line in enumerate(lines, 1):
        if FENCE.match(line):
            in_fence = not in_fence
        if in_fence:
            continue
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # https:, mailto:, ...
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(root).as_posix()}:{no}"
            if not dest.exists():
                problems.append(f"{where}: link to {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where}: link to {target}: no such heading")


def check_paths(root, page, lines, files, problems):
    where = page.relative_to(root).as_posix()
    for no, line in enumerate(lines, 1):
        # Link targets are checked as links, relative to the page.
        text = LINK.sub(lambda m: m.group(0).split("](")[0] + "]", line)
        for m in OUTSIDE.findall(text):
            problems.append(f"{where}:{no}: {m!r}: a document that is not in the repository")
        codes = {c.strip() for c in CODE.findall(text)}
        for ref in REPO_PATH.findall(text):
            ref = re.sub(r"\*\*$", "", ref).rstrip(".,;:")
            # In prose a path says so: a file name, a folder's slash, depth or a glob
            # (`docs/s` in "12,870 docs/s" is a unit).
            if ref not in codes and not re.search(r"\.\w+$|/$|/.*/|/\*", ref):
                continue
            if not exists(root, ref):
                problems.append(f"{where}:{no}: {ref}: not in the repository")
        for code in CODE.findall(text):
            code = code.strip().split("::")[0]
            if REPO_PATH.fullmatch(code) or not SHORT_PATH.match(code):
                continue
            rx = re.compile(
                r"(?:^|/)" + re.escape(code).replace(r"\*", "[^/]*").replace(r"\<", "<")
                .replace(r"\>", ">") + "$"
            )
            rx = re.compile(re.sub(r"<[^>]*>", "[^/]+", rx.pattern))
            if not any(rx.search(f) for f in files):
                problems.append(f"{where}:{no}: `{code}`: no such file in the repository")


def main(argv):
    root = pathlib.Path(argv[0]).resolve() if argv else pathlib.Path(__file__).resolve().parents[2]
    files = tree_files(root)
    pages = sorted(root / f for f in files if f.endswith(".md"))
    documented = {root / "README.md", *sorted((root / "docs").glob("*.md"))}
    problems = []
    for page in pages:
        lines = page.read_text(errors="replace").splitlines()
        check_links(root, page, lines, problems)
        if page in documented:
            check_paths(root, page, lines, files, problems)
    for p in problems:
        print(p)
    print(f"{len(problems)} broken references in {len(pages)} Markdown files"
          if problems else f"no broken references in {len(pages)} Markdown files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
