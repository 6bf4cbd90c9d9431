# The two commands of the README's quick start. Each creates the Python 3.12 environment first if needed.
#   make demo   runs configs/demo.py into workdirs/demo
#   make test   runs the test suite
# Benchmarks (README, "Speed"): make bench runs the CPU ones in .venv-bench (adds PyTorch for the reference).
PYTHON ?= python3.12
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt requirements-bench.txt | cksum | cut -d' ' -f1)

.PHONY: demo test env bench bench-env

env: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements-dev.txt
	$(VENV)/bin/python -m pip check
	rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)
	$(VENV)/bin/python -m gesture_jax.main --config configs/demo.py --workdir workdirs/demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

bench-env: $(BENCH_STAMP)

$(BENCH_STAMP): requirements.txt requirements-dev.txt requirements-bench.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -r requirements-bench.txt
	$(BENCH_VENV)/bin/python -m pip check
	rm -f $(BENCH_VENV)/.installed-* && touch $@

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/knn.py
	$(BENCH_VENV)/bin/python bench/input_pipeline.py
	$(BENCH_VENV)/bin/python bench/extract_vs_torch.py
