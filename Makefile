# Two commands matter: `make run` (install, then run everything) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test smoke bench catalogue lint

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: install
	$(PY) -m infra.run

test: install
	$(PY) -m pytest

smoke: install
	$(PY) -m infra.run --smoke

bench: install
	$(PY) -m bench.run

catalogue: install
	$(PY) -m contracts.catalogue --write README.md

lint: install
	$(VENV)/bin/lint-imports
