# Two entry points, each sets everything up first: `make repro` and `make test`.
VENV ?= .venv
PYTHON ?= python3
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: repro test lint results clean-venv

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

## Run the default pipeline: download -> ... -> evaluate@*, then the pictures (figures, summary).
repro: $(VENV)/.installed
	dvc repro

## Lint, then every test (unit, stage, dvc integration, full-MNIST accuracy).
test: $(VENV)/.installed
	ruff check .
	pytest

lint: $(VENV)/.installed
	ruff check .

## Rewrite the README's Results table from metrics/.
results: $(VENV)/.installed
	python src/results.py --metrics metrics --params params.yaml --readme README.md

clean-venv:
	rm -rf $(VENV)

.PHONY: plots

## Bring the pipeline and its pictures up to date, then render every plot of dvc.yaml into
## build/plots/index.html: one page that opens from disk with no network (see README, Pictures).
plots: $(VENV)/.installed
	dvc repro
	dvc plots show -o build/plots
