# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test test-fast lint format bench web clean

$(BIN)/python:
	@echo "Creating the virtual environment $(VENV)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip's own lines and progress bars show the install going (a minute or two the first time).
PIP_INSTALL := $(BIN)/python -m pip install --progress-bar on --disable-pip-version-check

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	@echo "Installing jointsat and its dependencies into $(VENV)..."
	$(PIP_INSTALL) -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	@echo "Installing jointsat with its test and development tools into $(VENV)..."
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/jointsat demo

test: $(STAMP_DEV)
	$(BIN)/python -m pytest -n 2 --dist worksteal -q

test-fast: $(STAMP_DEV)
	$(BIN)/python -m pytest -n 2 --dist worksteal -q -m "not slow"

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP_DEV)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP_DEV)
	$(BIN)/python -m benchmarks.passes_vs_skyfield
	$(BIN)/python -m benchmarks.passes_scaling
	$(BIN)/python -m benchmarks.passes_catalog
	$(BIN)/python -m benchmarks.passes_cluster
	$(BIN)/python -m benchmarks.scheduling
	$(BIN)/python -m benchmarks.planning
	$(BIN)/python -m benchmarks.api_load
	$(BIN)/python -m benchmarks.archive_ingest
	$(BIN)/python -m benchmarks.coverage
	$(BIN)/python -m benchmarks.transits
	$(BIN)/python -m benchmarks.operations

# The dashboard's third-party assets are committed; this refreshes them from npm (web/).
WEB_VENDOR := src/jointsat/web/vendor
# What vis-timeline's standalone build bundles: their licences go beside it.
VIS_BUNDLED := vis-data vis-util moment keycharm propagating-hammerjs @egjs/hammerjs \
	component-emitter uuid xss cssfilter

web:
	cd web && npm ci --ignore-scripts --no-audit --no-fund
	rm -rf $(WEB_VENDOR)/leaflet $(WEB_VENDOR)/vis-timeline
	mkdir -p $(WEB_VENDOR)/leaflet/images $(WEB_VENDOR)/vis-timeline
	cp web/node_modules/leaflet/dist/leaflet.js web/node_modules/leaflet/dist/leaflet.css \
		web/node_modules/leaflet/LICENSE $(WEB_VENDOR)/leaflet/
	cp web/node_modules/leaflet/dist/images/*.png $(WEB_VENDOR)/leaflet/images/
	cp web/node_modules/vis-timeline/standalone/umd/vis-timeline-graph2d.min.js \
		web/node_modules/vis-timeline/styles/vis-timeline-graph2d.min.css \
		web/node_modules/vis-timeline/LICENSE.md web/node_modules/vis-timeline/LICENSE.MIT.txt \
		web/node_modules/vis-timeline/LICENSE.Apache-2.0.txt $(WEB_VENDOR)/vis-timeline/
	# Its style injector off: the CSP refuses inline <style>, the linked .css has the rules.
	sed -i 's/if(t&&"undefined"!=typeof document){var n=document.head/if(!1){var n=document.head/' \
		$(WEB_VENDOR)/vis-timeline/vis-timeline-graph2d.min.js
	grep -q 'if(!1){var n=document.head' $(WEB_VENDOR)/vis-timeline/vis-timeline-graph2d.min.js
	cd web && node -e 'for (const p of ["leaflet", "vis-timeline"]) console.log(p, require(p + "/package.json").version)' \
		> ../$(WEB_VENDOR)/VERSIONS
	for p in $(VIS_BUNDLED); do \
		printf '\n==== %s %s ====\n\n' $$p "$$(cd web && node -p "require('$$p/package.json').version")"; \
		cat web/node_modules/$$p/LICEN[CS]E*; \
	done > $(WEB_VENDOR)/vis-timeline/THIRD-PARTY-LICENSES.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
