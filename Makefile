# Two commands: `make run` (the product on its embedded default) and `make test` (the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint format venv clean help

help:
	@echo "make run        set up .venv and start the embedded default (Airflow + local S3) on http://localhost:8080"
	@echo "make test       set up .venv, install system packages the tests need, run the whole suite"
	@echo "make test-fast  the suite without slow end-to-end tests"
	@echo "make lint       ruff check + ruff format --check + mypy"

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null  # a venv made without pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --python $(BIN)/python -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP)
	./scripts/install-system-deps.sh
	$(MAKE) --no-print-directory lint
	./scripts/run-tests.sh

test-fast: $(STAMP)
	./scripts/run-tests.sh -m "not slow"

run: $(STAMP)
	./scripts/run-embedded.sh

clean:
	rm -rf $(VENV) data .local
