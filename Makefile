# Two commands for a newcomer: `make demo` and `make test`.  Everything installs into .venv here.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test test-all install install-test install-browser bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

# The torch backend's tests need PyTorch; the CPU build of this version installs in seconds where it lies on
# disk (a newer one would be a CUDA build of several GB).  Without it the torch tests skip, saying why.
TORCH_SPEC ?= torch==2.13.0

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	$(PIP) install -q "$(TORCH_SPEC)" || echo "make: $(TORCH_SPEC) could not be installed: the torch tests skip"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: install
	$(VENV)/bin/w2v demo

# The explorer's browser test (tests/test_serve.py) drives Debian's chromium with its chromedriver: installed
# here as root with apt-get; elsewhere (not root, no apt) nothing fails and that one test skips, saying why.
install-browser:
	@[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq >/dev/null 2>&1 && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; } || \
	echo "make: chromium and chromium-driver are not installed (needs root and apt-get): the browser test skips"

test: install-test install-browser
	$(PY) -m pytest -q

test-all: install-test install-browser
	$(PY) -m pytest -q -m "slow or not slow"

# The benchmark makes its own environment (benchmarks/.venv); e.g. make bench BENCH_ARGS="--tokens 2000000 --repeats 1"
# dim 100 (every tool and loss), then dim 300 (negative sampling; benchmarks/out/dim300), then corpus preparation
BENCH_ARGS ?=
bench: install-test
	$(PY) benchmarks/compare.py $(BENCH_ARGS)
	$(PY) benchmarks/compare.py --dim 300 --losses ns --out benchmarks/out/dim300 $(BENCH_ARGS)
	$(PY) benchmarks/reading.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
