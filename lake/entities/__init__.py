"""Entities and people: the offline GLiNER model, extraction with patterns, Splink person resolution."""
