# Two commands matter: `make run` (the service with everything embedded) and `make test`.
# `make image-check` builds the container image without Docker and runs it (root; see the script).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest image-check mutation clean

install: $(STAMP)

# The [dev] extra brings [emulator] (PyAV), the embedded Postgres and the test tools; the
# production image installs none of them.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: install
	$(BIN)/valossa-ingest dev

pytest: install
	$(BIN)/pytest -n auto

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy --strict service

test: pytest lint typecheck

image-check: install
	bash scripts/image_check.sh

# Mutation testing of the worker's core (issue 10; MUTATION_SCOPE=analyses for all of
# service/analyses/). Figures and the surviving mutants: bench/README.md.
mutation: install
	$(BIN)/python bench/mutation.py

clean:
	rm -rf mutants $(VENV) .pytest_cache .mypy_cache .ruff_cache
