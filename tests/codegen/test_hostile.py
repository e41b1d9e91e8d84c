"""The hostile-schema corpus: every schema in tests/codegen/hostile/ must be refused, cleanly.

Each file says on a `# refused: LINE: WORDS` line where the generator must point and what it must
say. A test per file checks that ember-codegen exits 1, writes nothing, prints no traceback, and
that one of its lines is `FILE:LINE: ...` (or `FILE:LINE:COLUMN: ...`) holding WORDS.

    test_hostile.py --codegen-dir DIR --corpus DIR [unittest options]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import unittest
from pathlib import Path

import support
from support import run_generator

ARGS = argparse.Namespace()
_REFUSED = re.compile(r"^# refused: (\d+): (.+)$", re.M)


class HostileSchemas(unittest.TestCase):
    """One test per hostile schema; added by `add_tests`."""

    def check(self, path: Path) -> None:
        m = _REFUSED.search(path.read_text(encoding="utf-8"))
        self.assertIsNotNone(m, f"{path} has no '# refused: LINE: WORDS' line")
        line, words = m.group(1), m.group(2)
        with tempfile.TemporaryDirectory() as out:
            code, err = run_generator(str(path), "--out-dir", out)
            self.assertEqual(list(Path(out).iterdir()), [], "nothing may be written")
        self.assertEqual(code, 1, f"not refused; stderr:\n{err}")
        self.assertNotIn("Traceback", err)
        place = re.compile(re.escape(str(path)) + ":" + line + r"(:\d+)?: ")
        lines = err.splitlines()
        self.assertTrue(all(x.startswith(str(path) + ":") for x in lines),
                        f"every message starts with FILE:LINE:\n{err}")
        self.assertTrue(any(place.match(x) and words in x for x in lines),
                        f"no message at line {line} with {words!r}:\n{err}")


def add_tests() -> None:
    paths = sorted(Path(ARGS.corpus).glob("*.toml"))
    if not paths:
        raise SystemExit(f"no hostile schemas in {ARGS.corpus}")
    for path in paths:
        def test(self, path=path):
            self.check(path)

        test.__doc__ = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
        setattr(HostileSchemas, "test_" + path.stem, test)


if __name__ == "__main__":
    sys.exit(support.main(ARGS, {"--corpus": "tests/codegen/hostile/"}, add_tests))
