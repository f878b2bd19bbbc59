"""``python -m corpus.factors [statements/x.txt ...]``: check the named files (default: all) and count."""

import sys
from pathlib import Path

from corpus.factors import STATEMENTS_DIR, read_author, summary

paths = [Path(p) for p in sys.argv[1:]] or sorted(STATEMENTS_DIR.glob("*.txt"))
print(summary([s for p in paths for s in read_author(p)]))
