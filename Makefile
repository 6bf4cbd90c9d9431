# The two commands of the README's quick start. Each creates the Python 3.12 environment first if needed.
#   make demo   runs configs/demo.py into workdirs/demo
#   make test   runs the test suite
PYTHON ?= python3.12
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: demo test env

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
