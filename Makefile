# The two commands: `make run` (the demo) and `make test` (everything CI runs).
# Each creates its virtualenv if missing and reinstalls only when pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# `make test` runs the suite on each of PYTHONS (the oldest and the newest supported),
# one after the other, and lint and type checks once. A PYTHONS entry this machine lacks
# fails the run (CI must test both ends), unless ALLOW_MISSING_PYTHONS=1: then it is
# skipped with a warning. $(PYTHON)'s version uses .venv, the others .venv-X.Y.
PYTHONS ?= 3.11 3.13
ALLOW_MISSING_PYTHONS ?= 0
PYENV_ROOT ?= $(HOME)/.pyenv

# X.Y of interpreter $(1), empty if it does not run.
version_of = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
# The interpreter for X.Y: pyenv's newest X.Y.*, else pythonX.Y on PATH. Each candidate is
# asked its version: pyenv puts a shim on PATH even for versions it has not selected.
python_for = $(firstword $(foreach p,\
	$(shell ls -d $(PYENV_ROOT)/versions/$(1).*/bin/python$(1) 2>/dev/null | sort -rV) \
	$(shell command -v python$(1)) /usr/bin/python$(1),\
	$(if $(filter $(1),$(call version_of,$(p))),$(p))))
DEFAULT_VERSION := $(call version_of,$(PYTHON))
venv_for = $(if $(filter $(1),$(DEFAULT_VERSION)),$(VENV),.venv-$(1))

.PHONY: run test lint typecheck pytest soak clean

run: $(STAMP)
	$(BIN)/tongban demo

test: lint typecheck $(addprefix pytest-,$(PYTHONS))

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

# `make pytest-3.13`, `make soak-3.12`: the same on another interpreter, in its own venv.
.SECONDEXPANSION:
# Whole-system tests (browsers, several gateway processes, the installed wheel, the
# benchmark) run on the first of PYTHONS only: they exercise no interpreter-specific
# code the rest of the suite misses, and running them twice broke the 15-minute budget.
pytest-%: $$(if $$(call python_for,$$*),$$(call venv_for,$$*)/.installed)
	$(call on_python,$*,-n 2 --dist loadgroup -m "$(if $(filter $*,$(firstword $(PYTHONS))),not soak,not soak and not whole_system)")

soak-%: $$(if $$(call python_for,$$*),$$(call venv_for,$$*)/.installed)
	$(call on_python,$*,-m soak)

# pytest with arguments $(2) on Python $(1), or a loud stop (or skip) if it is missing.
define on_python
@if [ -z "$(call python_for,$(1))" ]; then \
	echo "*** Python $(1) not found ($(PYENV_ROOT)/versions/$(1).*, python$(1) on PATH): NOT TESTED ***" >&2; \
	[ "$(ALLOW_MISSING_PYTHONS)" = 1 ] || { echo "*** install it, or set ALLOW_MISSING_PYTHONS=1 to skip it" >&2; exit 1; }; \
else \
	echo "== $$($(call venv_for,$(1))/bin/python --version), in $(call venv_for,$(1))"; \
	$(call venv_for,$(1))/bin/pytest $(2); \
fi
endef

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# Pattern-built files are "intermediate" to make, which deletes them after the run:
# without this, every `make test` rebuilt the other interpreters' venvs from scratch.
.PRECIOUS: .venv-%/bin/python .venv-%/.installed

.venv-%/bin/python:
	$(call python_for,$*) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip

.venv-%/.installed: pyproject.toml | .venv-%/bin/python
	.venv-$*/bin/python -m pip install --quiet -e '.[dev,postgres]'
	touch $@

clean:
	rm -rf $(VENV) .venv-* var .mypy_cache .ruff_cache .pytest_cache
