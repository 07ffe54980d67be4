#!/usr/bin/env python3
"""modcycles.py finds a circle between top-level modules and passes a crate without one."""

import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent


def run(files):
    with tempfile.TemporaryDirectory() as d:
        src = pathlib.Path(d) / "demo" / "src"
        for name, text in files.items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_text(text)
        return subprocess.run(
            [sys.executable, str(HERE / "modcycles.py"), str(src.parent)],
            capture_output=True,
            text=True,
        )


circle = run({
    "lib.rs": "mod a;\nmod b;\n",
    "a.rs": "use crate::b::B;\npub struct A;\n",
    "b/mod.rs": "use crate::{a::A, c};\npub struct B;\n",
    "c.rs": "",
})
assert circle.returncode == 1, circle
assert "circle among a, b" in circle.stdout, circle.stdout

clean = run({
    "lib.rs": "mod a;\nmod b;\n",
    "a.rs": "use crate::b::B;\n",
    "b.rs": "pub struct B;\n#[cfg(test)]\nmod tests { use crate::a; }\n",
})
assert clean.returncode == 0, clean
if "--quiet" not in sys.argv:
    print("modcycles: ok")
