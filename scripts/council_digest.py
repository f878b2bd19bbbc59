"""Generate the test suite's shared council (12 children, seed 39, two next-day extracts) and print a digest
of every file it wrote: two versions of the generator must print the same digest.

    uv run python scripts/council_digest.py OUT_DIR
"""

import hashlib
import sys
from pathlib import Path

from synth.council import SynthOptions, generate, generate_next_day


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


if __name__ == "__main__":  # the document workers start by spawn, which re-imports this module
    out = Path(sys.argv[1])
    opts = SynthOptions(out=out, children=12, seed=39, defect_rate=0.05)
    generate(opts)
    generate_next_day(opts)
    generate_next_day(opts)
    print("tree", tree_digest(out))
