"""caselake: the product's logic as plain functions, one subpackage per capability (no Dagster, no generator)."""
