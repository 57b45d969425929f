# The two commands: `make run` (the demo) and `make test` (everything CI runs).
# Each creates .venv if missing and reinstalls only when pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest soak clean

run: $(STAMP)
	$(BIN)/tongban demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# -n 2: this project's CI machine has 2 cores; tests are isolated (own ports, own tmp dirs).
# --dist loadgroup: tests marked xdist_group share a worker, e.g. one wheel build and install.
pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -m "not soak"

soak: $(STAMP)
	$(BIN)/pytest -m soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
