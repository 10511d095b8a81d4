# Two entry points, each sets everything up first: `make repro` and `make test`.
VENV ?= .venv
PYTHON ?= python3
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: repro test lint results leaderboard compare sweep clean-venv

# The pipeline alone: what `make repro` needs.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

# The tests also need pytest and ruff, and the `s3` extra (dvc-s3 and rclone, the S3 server of
# the team-remote tests).
$(VENV)/.installed-test: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -e '.[test,s3]'
	touch $@

## Run the default pipeline: download -> ... -> evaluate@*, then the pictures (figures, summary).
repro: $(VENV)/.installed
	dvc repro

## Lint, then every test (unit, stage, dvc integration, full-MNIST accuracy).
test: $(VENV)/.installed-test
	ruff check .
	ruff format --check .
	pytest

lint: $(VENV)/.installed-test
	ruff check .
	ruff format --check .

## Rewrite the README's Results table from metrics/ (the leaderboard as Markdown).
results: $(VENV)/.installed
	python src/leaderboard.py --readme README.md

## Print one row per model of the workspace, sorted: `make leaderboard REV=<git rev or exp>`.
REV ?= workspace
leaderboard: $(VENV)/.installed
	python src/leaderboard.py --rev $(REV)

## Paired test of every model between two revisions: `make compare A=main B=<branch or exp>`.
A ?= HEAD
B ?= workspace
compare: $(VENV)/.installed
	python src/compare.py $(A) $(B)

## Report the finished `dvc exp` sweep of this commit: build/sweep/sweep.png and sweep.md.
sweep: $(VENV)/.installed
	python src/sweep.py --out build/sweep

clean-venv:
	rm -rf $(VENV)

.PHONY: plots

## Bring the pipeline and its pictures up to date, then render every plot of dvc.yaml into
## build/plots/index.html: one page that opens from disk with no network (see README, Pictures).
plots: $(VENV)/.installed
	dvc repro
	dvc plots show -o build/plots
