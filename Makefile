# caselake — the two commands a fresh machine needs are `make demo` and `make test`.
# Both install everything first (Debian packages via scripts/install-system-deps.sh, Python via uv.lock).
SHELL := /bin/bash
COUNCIL ?= data/council
CHILDREN ?= 100

.PHONY: setup demo test test-fast bench lint format clean

setup:
	bash scripts/install-system-deps.sh
	uv sync --frozen

demo: setup
	@if [ -d "$(COUNCIL)/landing" ]; then echo "$(COUNCIL) exists: writing the next day's extract"; \
	  uv run caselake synth --out $(COUNCIL) --children $(CHILDREN) --next-day; \
	else uv run caselake synth --out $(COUNCIL) --children $(CHILDREN); fi
	@echo "landing drop: $(COUNCIL)/landing   ground truth: $(COUNCIL)/truth"

test: setup
	uv run pytest

test-fast: setup
	uv run pytest -m "not slow and not browser"

bench: setup
	uv run python benchmarks/bench_synth.py --children 100,1000

lint:
	uv run ruff check .
	uv run ruff format --check .

format:
	uv run ruff check --fix .
	uv run ruff format .

clean:
	rm -rf data .pytest_cache .ruff_cache
