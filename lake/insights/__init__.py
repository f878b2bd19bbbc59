"""Adopter insights: who adopts the children who wait longest (records and report text, with honest
uncertainty), and the approved households not yet matched, ranked without protected characteristics and
audited for fairness. Plain functions; the asset and the CLI are thin wrappers (docs/insights.md)."""
