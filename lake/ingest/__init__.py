"""Ingest: landing an extract, staging its tables (typed, validated, quarantined), building the enterprise layer."""
