# qwenfeas developer commands. Every target builds its own virtual environment
# (.venv) from pyproject.toml, so a fresh machine needs only Python 3.11 and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEFAULT_SCENARIO := configs/default.yaml
# `make mutants` mutates these (modules or package folders); e.g. MODULES=qwenfeas/formulas/communication.py
MODULES ?= qwenfeas/formulas qwenfeas/training qwenfeas/serving qwenfeas/accounting.py
MUTANTS_FAIL_UNDER ?= 95
JOBS ?= 2
COVERAGE_FAIL_UNDER ?= 95

.DEFAULT_GOAL := help
.PHONY: help run test score bench lint golden mutants handmade coverage clean

help:  ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	@touch $@ $(VENV)/.installed-run

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,lint,dev]'
	@touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

run: $(VENV)/.installed-run  ## Estimate the bundled default scenario (a Qwen3-Max-class 1T MoE)
	$(BIN)/qwenfeas estimate $(DEFAULT_SCENARIO)

test: $(VENV)/.installed-test  ## Run the test suite
	$(BIN)/python -m pytest -q

score: $(VENV)/.installed-run  ## Scorecard: predictions against many published runs (reports; never fails on a miss)
	$(BIN)/qwenfeas validate --cases tests/scorecard/cases.yaml; status=$$?; test $$status -le 1

bench: $(VENV)/.installed-test  ## Measure start-up time, sweep speed and layout-search time (printed, not asserted)
	$(BIN)/python tests/benchmarks/startup.py
	$(BIN)/python tests/benchmarks/sweep.py
	$(BIN)/python tests/benchmarks/layout_search.py

readme: $(VENV)/.installed-run  ## Regenerate every command output shown in README.md (a test checks it)
	$(BIN)/python tests/readme.py

lint: $(VENV)/.installed-test  ## Static checks (ruff)
	$(BIN)/ruff check qwenfeas tests

golden: $(VENV)/.installed-test  ## Rewrite tests/golden/ (output snapshots) after a deliberate change
	$(BIN)/python -m tests.golden.regenerate

mutants: $(VENV)/.installed-dev  ## Mutation score of MODULES (default: the numeric wings) and the survivors
	$(BIN)/python tests/mutants/score.py --max-children $(JOBS) --fail-under $(MUTANTS_FAIL_UNDER) $(MODULES)

handmade: $(VENV)/.installed-test  ## Hand-made mutants (a term dropped, a wrong width or unit): how many the suite catches
	$(BIN)/python tests/mutants/handmade.py

coverage: $(VENV)/.installed-dev  ## Branch coverage, CLI subprocesses included; numeric wings, loader, verdict >= 95%
	rm -f .coverage .coverage.*
	$(BIN)/python -m pytest -q --cov=qwenfeas --cov-branch --cov-report= ; status=$$?; \
	$(BIN)/python tests/coverage_groups.py --fail-under $(COVERAGE_FAIL_UNDER) && exit $$status

clean:  ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info mutants .coverage .coverage.* htmlcov
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
