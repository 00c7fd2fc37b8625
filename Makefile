# The two set-up commands of the README: `make demo` and `make test`. Each creates .venv
# when it is missing and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= .impactlens/demo

export DO_NOT_TRACK := 1
export PREFECT_HOME ?= $(CURDIR)/.impactlens/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_LEVEL := WARNING
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 60

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	mkdir -p $(PREFECT_HOME)
	@echo "Installing impactlens and its dependencies into $(VENV) (log: $(VENV)/install.log)"
	$(BIN)/python -m pip install --upgrade pip > $(VENV)/install.log 2>&1 \
		|| { cat $(VENV)/install.log; exit 1; }
	$(BIN)/python -m pip install -e ".[dev]" >> $(VENV)/install.log 2>&1 \
		|| { cat $(VENV)/install.log; exit 1; }
	$(BIN)/python -c "import impactlens, pandas, pyarrow, networkx, prefect, fastapi, jinja2, typer"
	touch $(STAMP)

# The main job, as Monday's flow runs it: the weekly impact report flow through Prefect
# (a temporary local Prefect server, its database in $(PREFECT_HOME)) on the fixtures'
# latest full week, with an embedded SQLite store in $(OUT).
demo: $(STAMP)
	IMPACTLENS_DATA_DIR=$(OUT) \
	PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED=false \
	PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED=false \
	$(BIN)/impactlens flows weekly --week 2026-W47 --as-of 2026-11-23T00:00:00Z \
		--export fixtures/incidents.csv --history fixtures/assignment_history.csv \
		--map fixtures/service_map.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

# mypy reads the packages by their installed names (impactlens.engine, ...): a tree of
# links under .impactlens/typecheck mirrors the installed layout.
TYPECHECK := .impactlens/typecheck/impactlens

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	for entry in impactlens/*; do ln -s ../../../$$entry $(TYPECHECK)/; done
	for layer in engine service_map ingest store flows api reports; do \
		ln -s ../../../$$layer $(TYPECHECK)/$$layer; done
	cd $(dir $(TYPECHECK)) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p impactlens

bench: $(STAMP)
	rm -f .impactlens/bench/results.json
	$(BIN)/python -m bench.exposure
	$(BIN)/python -m bench.exposure --shape random
	$(BIN)/python -m bench.scoring
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.weekly
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.scale
	@echo "results: .impactlens/bench/results.json"

clean:
	rm -rf $(VENV) .impactlens .pytest_cache .hypothesis
