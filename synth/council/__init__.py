"""Generate a synthetic council's landing drop and its ground truth.

Layout written under ``out``::

    landing/<source>/<YYYY-MM-DD>/<TABLE>.csv          one file per source table
    landing/<source>/<YYYY-MM-DD>/documents/<id>.<ext> the document store for that extract
    landing/<source>/<YYYY-MM-DD>/_extract.json        control file, written last (extract complete)
    truth/...                                           what the pipeline must never read

Day 0 is a full extract; ``next_day`` writes day N+1 as a change extract (new and updated rows and a
deletions table), derived from the same seed, so the truth of every change is known.

The modules, in the order a run goes through them (each imports only those before it):

- ``options``: :class:`SynthOptions`, :class:`SynthResult` and the seed's random streams;
- ``content``: the free text (case notes, documents, forms) and the truth of its mentions;
- ``structured``: the structured rows (people, relationships, episodes, adoptions ...) and the planned typos;
- ``export_rows``: rows in a source system's flavour, with deliberate defects, as its CSV bytes;
- ``writing``: the day-0 full extract and the truth (:func:`generate`);
- ``next_day``: the change extracts (:func:`generate_next_day`).
"""

from synth.council.content import Content, base_counts, compose_base
from synth.council.export_rows import DEFECT_EXPECTED, DEFECT_KINDS
from synth.council.next_day import generate_next_day
from synth.council.options import SynthOptions, SynthResult
from synth.council.writing import build_world, generate

__all__ = [
    "DEFECT_EXPECTED",
    "DEFECT_KINDS",
    "Content",
    "SynthOptions",
    "SynthResult",
    "base_counts",
    "build_world",
    "compose_base",
    "generate",
    "generate_next_day",
]
