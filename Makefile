# The two commands of the README's quick start. Each creates the Python 3.12 environment first if needed.
#   make demo       runs configs/demo.py into workdirs/demo
#   make test       runs the whole test suite (what CI runs), on two pytest workers
# For developers:
#   make test-fast  the fast tier: every module's own behaviour, without the end-to-end runs and the
#                   cases marked `slow` (pytest.ini); iterate with it, run `make test` before you push
#   make coverage   the whole suite under coverage.py (line coverage of gesture_jax and tfds_builders,
#                   subprocesses included), report in the terminal
# Benchmarks (README, "Speed"): make bench runs the CPU ones in .venv-bench (adds PyTorch for the reference).
PYTHON ?= python3.12
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt requirements-bench.txt | cksum | cut -d' ' -f1)

# Two workers (pytest-xdist), measured faster on a 2-core machine than one. Tests are grouped by module, and
# the users of the shared mode runs form one group (tests/conftest.py), so fixtures are made once.
PYTEST := $(VENV)/bin/python -m pytest -q -n 2 --dist loadgroup

.PHONY: demo test test-fast coverage env bench bench-env

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
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

coverage: $(STAMP)
	$(VENV)/bin/python -m coverage erase
	$(VENV)/bin/python -m coverage run -m pytest -q -n 2 --dist loadgroup
	$(VENV)/bin/python -m coverage combine -q
	$(VENV)/bin/python -m coverage report

bench-env: $(BENCH_STAMP)

$(BENCH_STAMP): requirements.txt requirements-dev.txt requirements-bench.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -r requirements-bench.txt
	$(BENCH_VENV)/bin/python -m pip check
	rm -f $(BENCH_VENV)/.installed-* && touch $@

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/knn.py
	$(BENCH_VENV)/bin/python bench/linear_probe.py
	$(BENCH_VENV)/bin/python bench/input_pipeline.py
	$(BENCH_VENV)/bin/python bench/extract_vs_torch.py
