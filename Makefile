# The README's commands. Each one sets up what it needs first, from a bare clone.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := demo
VENV := .venv/bin
STAMP := .venv/.sesflow-setup

.PHONY: demo test bench campaign setup lint typecheck unit clean

$(STAMP): pyproject.toml uv.lock scripts/setup scripts/find-python deploy/cdk/package-lock.json
	scripts/setup
	touch $@

setup: $(STAMP)

demo: setup
	$(VENV)/sesflow demo

lint: setup
	$(VENV)/ruff format --check src tests benchmarks deploy
	$(VENV)/ruff check src tests benchmarks deploy
	$(VENV)/lint-imports

typecheck: setup
	$(VENV)/mypy --strict src
	$(VENV)/mypy --strict deploy/cdk
	$(VENV)/mypy --strict deploy/sam/events

unit: setup
	$(VENV)/pytest -m unit -q -n auto

test: lint typecheck
	$(VENV)/pytest

bench: setup
	$(VENV)/python -m benchmarks

# The reliability campaign at full size (make test runs its short version); tables print at the end.
campaign: setup
	SESFLOW_CAMPAIGN=full $(VENV)/pytest tests/campaign tests/notices/tracking/test_netbox_flow.py -q

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis .sesflow .aws-sam deploy/cdk/node_modules
