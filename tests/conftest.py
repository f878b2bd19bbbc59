"""Shared fixtures: one small synthetic council per test session, generated for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.council import SynthOptions, generate, generate_next_day


@pytest.fixture(scope="session")
def council(tmp_path_factory) -> SynthOptions:
    """Twelve children at the pilot's ratios (about 1,000 notes and 230 documents), plus two next-day extracts."""
    # Seed 39: among its 12 children are a name change, a missing episode and every kind of document fault.
    opts = SynthOptions(out=tmp_path_factory.mktemp("council"), children=12, seed=39, defect_rate=0.05)
    generate(opts)
    generate_next_day(opts)
    generate_next_day(opts)
    return opts


def small_options(out: Path, **kw) -> SynthOptions:
    """A council small enough to generate several times in one test."""
    defaults = dict(children=3, seed=11, notes_per_child=6, documents_per_child=8, forms_per_child=2)
    defaults.update(kw)
    return SynthOptions(out=out, **defaults)
