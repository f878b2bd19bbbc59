# caselake — the two commands a fresh machine needs are `make demo` and `make test`.
# Both install everything first (Debian packages via scripts/install-system-deps.sh, Python via uv.lock).
SHELL := /bin/bash
DATA ?= lake/data
CHILDREN ?= 100
SCALE ?= 1000,10000,100000
PORT ?= 3000
APP_PORT ?= 5006
# The demo's adopter insights read a synthetic agency's export: a council of 100 children has too few adopters.
AGENCY ?= $(abspath $(DATA))/agency
export DAGSTER_HOME ?= $(abspath $(DATA))/dagster_home

.PHONY: setup demo test test-serial test-fast bench bench-scale bench-search-scale lint format dbt-docs clean

setup:
	bash scripts/install-system-deps.sh
	uv sync --frozen
	uv run dbt parse --project-dir dbt --profiles-dir dbt --quiet  # the manifest Dagster loads the dbt assets from
	@# The DfE 903 rules pin pandas<2: they get an environment of their own.
	[ -x .venv-903/bin/python ] || uv venv -q --python 3.11 .venv-903
	uv pip install -q --python .venv-903/bin/python "csc-validator-be-903==0.1.17"
	@# So do the DfE CIN census rules, which leave numpy unpinned (pandas 1.5 fails to import under numpy 2).
	[ -x .venv-cin/bin/python ] || uv venv -q --python 3.11 .venv-cin
	uv pip install -q --python .venv-cin/bin/python "csc-validator-be-cin==0.1.13" "numpy<2"

demo: setup
	@if [ -d "$(DATA)/landing" ]; then echo "$(DATA)/landing exists: writing the next day's extract"; \
	  uv run caselake synth --out $(DATA) --children $(CHILDREN) --next-day; \
	else uv run caselake synth --out $(DATA) --children $(CHILDREN); fi
	[ -f "$(AGENCY)/adopter_features.parquet" ] || uv run caselake synth-agency --out "$(AGENCY)" --households 500
	@# The structured load, then the app and the Dagster UI, while the documents, entities, search index and
	@# adopter insights are read (orchestration/cli/demo.py); Ctrl-C stops it all.
	CASELAKE_AGENCY_EXPORT="$(AGENCY)" uv run caselake demo --port $(PORT) --app-port $(APP_PORT)

# The suite on two xdist workers, the shared loaded council's tests on one of them (decisions 0025, 0026).
test: setup
	uv run pytest -n 2 --dist loadgroup

# The same suite in one process: slower on 2 cores, and the way to read one test's output in order.
test-serial: setup
	uv run pytest

test-fast: setup
	uv run pytest -m "not slow and not browser"

bench: setup
	uv run python benchmarks/bench_synth.py --children 100,1000 --keep .bench/council
	uv run python benchmarks/bench_lake.py --children 1000 --council .bench/council
	uv run python benchmarks/bench_documents.py --children 100 --buckets 0
	uv run caselake eval documents --hard  # hard scans, held-out part: CER/WER per kind, handwriting flags, s/page per engine
	uv run python benchmarks/bench_entities.py --evaluate
	uv run python benchmarks/bench_search.py --children 100 --million
	uv run python benchmarks/bench_app.py --repeat 5 --nodes 5000
	uv run python benchmarks/bench_load.py --procs 1,2 --users 1,5,10,20 --clients 20 --seconds 20
	uv run caselake eval insights --seeds 200 --households 500
	uv run python benchmarks/bench_disclosure.py --children 3 --notes 100 --documents 20

# Scaling curves of the structured load (synth, load, dbt, no-op re-run, next day) and the backlog in machines:
# `make bench-scale SCALE=1000,10000`; results in .bench/scale.json (`--report-only` prints them again).
bench-scale: setup
	uv run python benchmarks/bench_scale.py --children $(SCALE)

# Search at a council's size (issue 38), over the case notes of `make bench-scale SCALE=100000` (kept with --keep):
# `make bench-search-scale CHUNKS=10000000`; the index build runs at low priority; results in .bench/search_scale.json
CHUNKS ?= 10000000
bench-search-scale: setup
	nice -n 19 uv run python benchmarks/bench_search.py --scale-only --chunks $(CHUNKS) --phase build
	uv run python benchmarks/bench_search.py --scale-only --chunks $(CHUNKS) --phase measure

lint:
	uv run ruff check .
	uv run ruff format --check .
	uv run lint-imports  # the layer contracts in pyproject.toml

format:
	uv run ruff check --fix .
	uv run ruff format .

dbt-docs: setup
	uv run dbt docs generate --project-dir dbt --profiles-dir dbt
	@echo "dbt docs: dbt/target/index.html (serve with: uv run dbt docs serve --project-dir dbt --profiles-dir dbt)"

clean:
	rm -rf $(DATA) .pytest_cache .ruff_cache dbt/target
