# Two commands from a fresh clone with nothing but Python 3.11+:
#   make demo   set up, then run the main job on embedded defaults (no server, no internet)
#   make test   set up, then run the test suite
# `make ui` serves the Dagster UI on http://127.0.0.1:3000.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export ZVT_HOME ?= $(CURDIR)/.zvt
export DAGSTER_HOME ?= $(ZVT_HOME)/dagster

.PHONY: setup demo test lint ui mlflow bench mutation clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --compile-bytecode --quiet
	touch $@

setup: $(VENV)/.synced
	mkdir -p "$(DAGSTER_HOME)"
	test -f "$(DAGSTER_HOME)/dagster.yaml" || cp dagster.embedded.yaml "$(DAGSTER_HOME)/dagster.yaml"

demo: setup
	$(VENV)/bin/zvt demo

test: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

mlflow: setup
	$(VENV)/bin/mlflow ui --backend-store-uri "sqlite:///$(ZVT_HOME)/mlflow.db" --host 127.0.0.1 --port 5000

ui: setup
	$(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: setup
	$(VENV)/bin/python benchmarks/run_all.py

# Mutation testing of the money paths (slow, CPU-heavy, not part of `make test` or CI):
# mutmut per module, then the score. `make mutation MODULES="throttle order"` limits it.
mutation: setup
	$(VENV)/bin/python benchmarks/mutation_score.py $(MODULES)

clean:
	rm -rf $(VENV) $(TOOLS) $(ZVT_HOME)
