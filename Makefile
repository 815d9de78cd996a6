# The two commands a newcomer needs (see README):
#   make example   set up, then compile the example platform into build/gitops
#   make test      set up (with dev tools), then run lint, types and the tests
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: example test setup setup-dev tools lint golden clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e .

setup-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

example: setup
	$(BIN)/mlspec validate specs/examples/platform.yaml
	$(BIN)/mlspec compile specs/examples/platform.yaml --out build/gitops

tools:
	scripts/install-tools.sh

lint: setup-dev
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/mypy

test: setup-dev tools lint
	$(BIN)/pytest -q

golden: setup-dev
	$(BIN)/python scripts/update_golden.py

clean:
	rm -rf build $(VENV) .tools
