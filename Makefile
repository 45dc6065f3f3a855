# crm-metrics: `make run` (install, demo data, serve on :3007), `make test` (everything) and
# `make bench` (the benchmark: bench/report.md; about 16 minutes, not part of `make test`).
VENV ?= .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/crm-metrics
PORT ?= 3007
export DATABASE_URL ?= duckdb:///crm_metrics.duckdb

.PHONY: install run demo test snapshots docs clean bench bench-events bench-live bench-second-set bench-anomalies bench-priced vendor image

# System packages: Pango, HarfBuzz's subsetter and the DejaVu fonts for PDF reports (WeasyPrint); for the tests,
# Chromium (the browser test) and poppler-utils (pdftotext, pdftoppm). Installed when missing.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
TEST_SYSTEM_PACKAGES := chromium poppler-utils

define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing $$missing"; \
		apt-get install -y -qq $$missing >/dev/null || { apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; }; fi
endef

$(VENV)/.installed: pyproject.toml
	$(call apt_install,$(SYSTEM_PACKAGES))
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(CLI) demo

run: demo
	@echo
	@echo "Serving on http://127.0.0.1:$(PORT); try:"
	@echo "  curl -s 'http://127.0.0.1:$(PORT)/api/v1/metrics/summary' -H 'X-Tenant-Id: 00000000-0000-0000-0000-000000000001'"
	@echo
	COST_MODEL=priced WHATSAPP_PRICES=examples/prices/whatsapp.csv LLM_PRICES=examples/prices/llm.csv CRM_METRICS_PATH=examples/metrics $(CLI) serve --port $(PORT)

test: install
	$(call apt_install,$(TEST_SYSTEM_PACKAGES))
	$(PY) -m pytest -n auto

snapshots: install
	$(PY) -m pytest tests/test_compiler.py --snapshot-update

# Generates the data under bench/data/ when missing, loads it into DuckDB and PostgreSQL
# (127.0.0.1:5432, database test, a private schema dropped afterwards), runs every measurement
# and writes bench/report.md and bench/report.json. wrk (the HTTP load generator) comes from
# the system's packages.
$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	@command -v wrk >/dev/null || { echo "installing wrk (HTTP load generator)"; apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }; }
	$(PY) -m bench.run

# The events section alone (bench/events.py): merged into bench/report.md and report.json.
bench-events: $(VENV)/.bench-installed
	$(PY) -m bench.events

# docs/metrics.md §7 alone (responses + outcomes + heat map vs pandas): its section of bench/report.md.
bench-second-set: $(VENV)/.bench-installed
	$(PY) -m bench.second_set

# Priced costs: the dashboard and summary flat vs COST_MODEL=priced, the costs answer, the card's install (bench/priced.py, a few minutes): its section of bench/report.md.
bench-priced: $(VENV)/.bench-installed
	$(PY) -m bench.priced

# Anomalies and forecasts alone (bench/anomalies.py: the detector's evaluation on synthetic
# series, a forecast backtest on six tenants of the bench data; a few minutes): merged into
# bench/report.md and report.json.
bench-anomalies: $(VENV)/.bench-installed
	$(PY) -m bench.anomalies

# The PostgreSQL live rollup's section alone (bench/live.py: about 6 minutes).
bench-live: $(VENV)/.bench-installed
	$(PY) -m bench.live

# Build the container image and check it starts healthy and stops on SIGTERM (docker, else
# podman; minutes, not part of `make test`). BASE_IMAGE=localhost/crm-metrics-base:bookworm
# builds on deploy/local-base.sh's Debian base where no registry is reachable (docs/deploy.md).
image:
	deploy/build-image.sh

clean:
	rm -rf $(VENV) dist build .pytest_cache .hypothesis crm_metrics.duckdb crm_metrics.duckdb.wal

docs: install
	$(PY) -m tests.support.docs

# The chart libraries of the dashboard page, from the npm registry, into server/static/vendor/
# (committed: the package ships them and the page never loads code from elsewhere).
VENDOR := server/static/vendor
vendor:
	@tmp=$$(mktemp -d) && grep -v '^#' $(VENDOR)/VERSIONS | while read -r spec file; do \
		name=$${spec%@*}; \
		( cd $$tmp && npm pack --silent "$$spec" >/dev/null ) && \
		tar -xzf $$tmp/$$name-$${spec##*@}.tgz -C $$tmp package/$$file package/LICENSE && \
		sed '/^\/\/# sourceMappingURL=/d; s|//# sourceMappingURL=[^ ]*$$||' $$tmp/package/$$file > $(VENDOR)/$$(basename $$file) && \
		cp $$tmp/package/LICENSE $(VENDOR)/$$name.LICENSE && rm -rf $$tmp/package && echo "vendored $$spec"; \
	done; rm -rf $$tmp
