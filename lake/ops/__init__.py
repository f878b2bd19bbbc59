"""How the platform itself runs: the cost of each asset, Delta housekeeping, and the provenance of a fact."""
