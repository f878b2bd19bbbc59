"""Crafted mention frames for the resolution tests: notes written by hand, each mention given by its text."""

from __future__ import annotations

import polars as pl


def crafted_mentions(
    texts: dict[str, str], spans: dict[str, list[tuple[str, str]]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Mention and text-item frames for crafted notes of child C1: each span given by its text and label, in order."""
    rows, items = [], []
    for note_id, text in texts.items():
        items.append({"source_type": "case_note", "source_id": note_id, "page": 0, "child_id": "C1", "text": text})
        pos = 0
        for surface, label in spans[note_id]:
            start = text.index(surface, pos)
            pos = start + len(surface)
            rows.append(
                {
                    "mention_id": f"{note_id}:{start}",
                    "source_type": "case_note",
                    "source_id": note_id,
                    "page": 0,
                    "child_id": "C1",
                    "start": start,
                    "end": pos,
                    "text": surface,
                    "label": label,
                }
            )
    return pl.DataFrame(rows), pl.DataFrame(items)
