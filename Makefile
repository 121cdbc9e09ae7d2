# Two commands on a fresh machine with only Python 3.11+:
#   make run    set up .venv, install fpgasim, run the flagship experiment
#   make test   set up .venv, install fpgasim with test extras, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/fpgasim run experiments/superlip-alexnet.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow" -q

test-slow: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/kernels.py

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
