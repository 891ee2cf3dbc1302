"""Print a recipe's ``source.sha256`` block from a dataset folder's MANIFEST.tsv (or by hashing).

Usage: ``python scripts/recipe_sha256.py /path/to/data/<folder> [regex]``. With a MANIFEST.tsv
(columns ``file`` and ``sha256``) its checksums are used; otherwise every file is hashed.

To pin a recipe from the files it finds (and write it, with ``expected.counts``), use
``python -m eegbench.data pin <recipe> [--counts] [--write]`` instead.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eegbench.data.recipe import sha256_of  # noqa: E402


def main(folder: str, pattern: str = ".*") -> None:
    """Write the YAML block to stdout."""
    root = Path(folder)
    manifest = root / "MANIFEST.tsv"
    if manifest.is_file():
        with open(manifest, newline="") as fh:
            pairs = [(r["file"], r["sha256"]) for r in csv.DictReader(fh, delimiter="\t")]
    else:
        pairs = [(p.relative_to(root).as_posix(), sha256_of(p))
                 for p in sorted(root.rglob("*")) if p.is_file()]
    regex = re.compile(pattern)
    sys.stdout.write("  sha256:\n")
    for rel, digest in pairs:
        if regex.fullmatch(rel):
            sys.stdout.write(f"    '{rel}': {digest}\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
