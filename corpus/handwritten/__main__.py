"""``python -m corpus.handwritten [notes/x.txt ...]``: check the marks of the named files (default: all), count."""

import sys
from pathlib import Path

from corpus.handwritten import NOTES_DIR, read_author, summary

paths = [Path(p) for p in sys.argv[1:]] or sorted(NOTES_DIR.glob("*.txt"))
found = [n for p in paths for n in read_author(p)]
short = [f"{n.note_id} ({n.words})" for n in found if not 100 <= n.words <= 400]
print(summary(found))
if short:
    print("outside 100-400 words:", ", ".join(short))
