#!/usr/bin/env python3
"""Import circles between the top-level modules of each crate.

A module `a` depends on `b` when a file under `src/a` (or `src/a.rs`) names `crate::b` or
`super::b` from the crate root. Strongly connected components with more than one module are
circles; each is printed with one path that closes it. Exit 1 when any crate has one.

Usage: modcycles.py [CRATE_DIR ...]   (default: every crate under crates/ and services/, e2e/, tools/)
"""

import pathlib
import re
import sys

USE = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
# `use crate::{a, b::c}` names several modules at once.
GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def top_modules(src: pathlib.Path):
    mods = {}
    for p in sorted(src.iterdir()):
        if p.is_dir():
            mods[p.name] = [f for f in p.rglob("*.rs")]
        elif p.suffix == ".rs" and p.stem not in ("lib", "main"):
            files = [p]
            sub = src / p.stem
            if sub.is_dir():
                files += list(sub.rglob("*.rs"))
            mods.setdefault(p.stem, []).extend(files)
    return mods


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def test_code_removed(text: str) -> str:
    # `#[cfg(test)] mod tests { ... }` at the end of a file: tests may import anything.
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]


def deps(mods):
    graph = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            if f.name == "tests.rs" or "tests" in f.parent.parts[-1:]:
                continue
            text = test_code_removed(strip_comments(f.read_text(errors="replace")))
            names = set(USE.findall(text))
            for g in GROUP.findall(text):
                for part in g.split(","):
                    part = part.strip().split("::")[0].strip()
                    if part:
                        names.add(part)
            for n in names:
                if n in mods and n != m:
                    graph[m].add(n)
    return graph


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def cycle_path(graph, comp):
    start = comp[0]
    inside = set(comp)
    # BFS from start back to start within the component.
    prev = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w not in inside:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start] + list(reversed(path[:-1])) + [start] if len(path) > 1 else [start, v, start]
                if w not in seen:
                    seen.add(w)
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return comp


def main(argv):
    root = pathlib.Path(__file__).resolve().parents[2]
    crates = [pathlib.Path(a) for a in argv] or sorted(
        [p for d in ("crates", "services") for p in (root / d).glob("*") if (p / "src").is_dir()]
        + [root / d for d in ("e2e", "tools") if (root / d / "src").is_dir()]
    )
    bad = 0
    for c in crates:
        src = c / "src"
        if not src.is_dir():
            continue
        graph = deps(top_modules(src))
        for comp in sccs(graph):
            bad += 1
            path = " -> ".join(cycle_path(graph, comp))
            print(f"{c.name}: circle among {', '.join(comp)} (e.g. {path})")
    if bad == 0:
        print(f"no import circles between top-level modules in {len(crates)} crates")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
