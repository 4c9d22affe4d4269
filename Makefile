# Two commands for a newcomer: `make demo` and `make test`.  Everything installs into .venv here.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test test-all install install-test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: install
	$(VENV)/bin/w2v demo

test: install-test
	$(PY) -m pytest -q

test-all: install-test
	$(PY) -m pytest -q -m "slow or not slow"

# The benchmark makes its own environment (benchmarks/.venv); e.g. make bench BENCH_ARGS="--tokens 2000000 --repeats 1"
BENCH_ARGS ?=
bench: install-test
	$(PY) benchmarks/compare.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
