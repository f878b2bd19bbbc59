"""Evaluation against the synthetic council's truth: it uses both ``lake`` and ``synth``; neither imports it."""
