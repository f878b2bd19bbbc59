"""What a council is generated from: its options, the result of a run, and the seed's random streams.

Every part of the generator draws from a stream of its own, named by the seed and a few numbers, so a change
to one part moves none of the others' draws.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class SynthOptions:
    out: Path
    children: int = 100
    seed: int = 42
    flavour: str = "liquidlogic"
    split: str = "train"
    as_of: dt.date = dt.date(2026, 11, 1)
    notes_per_child: float = 87.0
    documents_per_child: float = 19.0
    forms_per_child: float = 4.0
    defect_rate: float = 0.02
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    # Every structured table (children, people, episodes, case notes, forms ...) and no documents: the document
    # manifest table is empty (a full extract writes it with its header only, a change extract leaves it out)
    # and no document file is written, on day 0 or after. For councils at scale, where rendering documents
    # would take days. The notes and forms per child are drawn as for the full council.
    structured_only: bool = False
    # The share of case notes that carry a hand-written factor statement (corpus/factors, this split's authors),
    # put in between two of the note's sentences; 0 for none (the entity model's training text has none: the
    # statements' names and kinship words are not marked).
    factor_statements: float = 0.4
    # Plant the CIN census errors of synth.council.pathway.CIN_DEFECTS (one child each), which the DfE's CIN rules
    # must name. Off unless asked: the census check blocks, so the default council's return must be clean.
    cin_defects: bool = False

    @property
    def documents(self) -> bool:
        """Whether this council has documents at all."""
        return not self.structured_only and self.documents_per_child > 0


@dataclass
class SynthResult:
    extract_dir: Path
    truth_dir: Path
    extract_date: dt.date
    day: int
    rows: dict[str, int]
    documents: int
    seconds: float


def random_stream(seed: int, *stream: int) -> np.random.Generator:
    """The generator of one stream of the seed's draws (``stream``: which part draws from it)."""
    return np.random.default_rng([seed, *stream])
