# Two commands matter: `make run` (install, then run everything) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
# The pure tier must not need a broker or a database: point the harness at closed ports.
NO_SERVICES := TONGBAN_TEST_PG=postgresql://postgres@127.0.0.1:9/postgres TONGBAN_TEST_AMQP=guest:guest@127.0.0.1:9 \
	TONGBAN_TEST_BROKER_ADMIN=http://127.0.0.1:9 TONGBAN_TEST_BROKER_START=false

.PHONY: install run test test-unit test-integration test-browser test-faults test-faults-short lint smoke bench catalogue deploy-files

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt tests/deployment/package-lock.json gateway/console/package-lock.json
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@command -v npm >/dev/null || { echo "npm (Node.js) is needed for the deployment checks: apt-get install nodejs npm"; exit 1; }
	cd tests/deployment && npm ci --no-audit --no-fund --loglevel=error
	# the console's htmx (served from node_modules by the gateway) and axe-core (the browser tests' check)
	cd gateway/console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# INSTANCES=3 (or "2,gateway=3"): that many of every service, competing for their queues.
INSTANCES ?= 1
run: install
	$(PY) -m infra.run --instances $(INSTANCES)

# Everything: lint and types, the pure tier, the integration tier in two processes, the console
# in the browser (about two minutes, one process: its own CPU, so its waits stay short), then the
# fault suite's short share (about three minutes).
test: lint test-unit test-integration test-browser test-faults-short

# The pure tier: rules, contracts, schemas, the generated documents. No broker, no database.
test-unit: install
	$(NO_SERVICES) $(PY) -m pytest -q tests/unit

# Against this machine's RabbitMQ and PostgreSQL; ends by checking the broker still answers.
test-integration: install
	$(PY) -m tests.parallel tests/integration

# The console in Debian's chromium (Playwright), against the same broker and PostgreSQL: one
# process, one browser for the whole run (tests/browser/test_console.py); it rewrites the
# screenshots in docs/console/.
test-browser: install
	$(PY) -m pytest -q -p no:randomly tests/browser

# The fault suite (tests/faults): the system with three of every service on a private three-node
# broker cluster and a scratch PostgreSQL, under load, with processes, nodes and connections killed.
# FAULTS_PROFILE=long for longer loads and more faults per case.
FAULTS_PROFILE ?= short
test-faults: install
	FAULTS_PROFILE=$(FAULTS_PROFILE) $(PY) -m pytest -q -p no:randomly tests/faults

# The fault suite's share of `make test` (and so of CI): the kill -9 case, every kind of process
# killed at random moments and restarted, under 30 s of load; the ledger must balance.
test-faults-short: install
	FAULTS_SECONDS=30 $(PY) -m pytest -q -p no:randomly tests/faults -k kill9_processes

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

smoke: install
	$(PY) -m infra.run --smoke

# The deployed-topology part reads with wrk (Debian: apt-get install wrk) and profiles with py-spy
# (requirements-dev.txt). Point it at a broker and PostgreSQL of its own with TONGBAN_TEST_AMQP,
# TONGBAN_TEST_BROKER_ADMIN and TONGBAN_TEST_PG (as the tests); HTTP ports from $BENCH_HTTP_BASE (31000).
bench: install
	@command -v wrk >/dev/null || { echo "wrk is needed for the read benchmark: apt-get install wrk"; exit 1; }
	$(PY) -m bench.run

catalogue: install
	$(PY) -m contracts.catalogue --write docs/events.md

# The generated deployment files (infra/k8s/base/processes.yaml, compose.yaml) from infra/processes.py.
deploy-files: install
	$(PY) -m infra.deploy --write
