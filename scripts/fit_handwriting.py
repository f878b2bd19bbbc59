"""Refit the handwriting flag (``lake/documents/handwriting.json``) on the hard-scan set's tuning part.

Reads every line of the tuning pages with the current reader, scores the configurations of
``evaluation.hard_scans.HANDWRITING_GRID`` by 5-fold cross-validation grouped by page, fits the chosen one on all
the tuning lines and writes it. The held-out part is never read. Run it after any change to the reader's
cleaning, layout or line features: ``uv run python scripts/fit_handwriting.py``.
"""

from __future__ import annotations

import json

from evaluation.hard_scans import choose_handwriting, cross_validate_handwriting, fit_handwriting, line_examples
from lake.documents.ocr import HANDWRITING_MODEL


def main() -> None:
    examples = line_examples()
    scores = cross_validate_handwriting(examples)
    print(scores)
    chosen = choose_handwriting(scores)
    print(
        f"chosen: C={chosen['c']}, threshold {chosen['threshold']}: recall {chosen['recall']:.3f}, "
        f"{chosen['false']} of {chosen['printed']} printed lines flagged"
    )
    model = fit_handwriting(examples, chosen["c"], chosen["threshold"])
    HANDWRITING_MODEL.write_text(json.dumps(model, indent=1) + "\n")
    print(f"written: {HANDWRITING_MODEL}")


if __name__ == "__main__":
    main()
