"""Contracts: what each source system's export holds (tables, columns, types, keys, codes) in the neutral vocabulary."""
