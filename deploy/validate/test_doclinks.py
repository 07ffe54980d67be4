#!/usr/bin/env python3
"""doclinks.py finds what it should and only that: each broken reference in its own tree."""

import contextlib
import io
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import doclinks  # noqa: E402

GOOD = """# Title

## Two words

See [the other page](OTHER.md#a-heading), [here](#two-words), [a folder](../services/) and
[the web](https://example.com/docs/x.md). The code is in `services/x/src/y.rs` and
services/x/src/, `crates/*`, `deploy/<env>/`, `y.rs`, `src/y.rs`, `y.rs::f`, `OTHER.md`.
12,870 docs/s, builds seeded, --seed 42. Example data: {"changes": ["deploy/run.sh"]}.
"""


def run(tree):
    with tempfile.TemporaryDirectory() as d:
        root = pathlib.Path(d)
        for path, text in tree.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = doclinks.main([str(root)])
        return code, out.getvalue().splitlines()[:-1]


def tree(page):
    return {
        "README.md": "# R\n",
        "docs/PAGE.md": page,
        "docs/OTHER.md": "# Other\n\n## A heading\n",
        "services/x/src/y.rs": "",
        "crates/a/Cargo.toml": "",
        "deploy/prod/k.yaml": "",
    }


class DocLinks(unittest.TestCase):
    def test_existing_references_pass(self):
        self.assertEqual(run(tree(GOOD)), (0, []))

    def broken(self, text, expected):
        code, problems = run(tree(GOOD + text))
        self.assertEqual(code, 1)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn(expected, problems[0])
        self.assertTrue(problems[0].startswith("docs/PAGE.md:9:"), problems[0])

    def test_a_link_to_a_missing_file(self):
        self.broken("[x](GONE.md)\n", "link to GONE.md: no such file")

    def test_a_link_to_a_missing_heading(self):
        self.broken("[x](OTHER.md#nope)\n", "no such heading")

    def test_a_missing_repository_path_in_backticks(self):
        self.broken("`services/x/src/z.rs`\n", "services/x/src/z.rs: not in the repository")

    def test_a_missing_repository_path_in_prose(self):
        self.broken("see crates/b/src/lib.rs.\n", "crates/b/src/lib.rs: not in the repository")

    def test_a_short_path_no_file_ends_with(self):
        self.broken("`src/z.rs::f`\n", "`src/z.rs`: no such file")

    def test_a_document_not_in_the_repository(self):
        self.broken("the table in `DESIGN.md`\n", "`DESIGN.md`: no such file")

    def test_the_design_documents_outside_the_repository(self):
        self.broken("the seed's hub\n", "not in the repository")
        self.broken("(seed `003`)\n", "not in the repository")


if __name__ == "__main__":
    unittest.main()
