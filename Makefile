# Two entry points, each sets everything up first: `make repro` and `make test`.
# `make` alone lists the targets.
VENV ?= .venv
PYTHON ?= python3
export PATH := $(abspath $(VENV))/bin:$(PATH)

.DEFAULT_GOAL := help
.PHONY: help repro test test-fast lint plots results leaderboard compare cluster sweep tune \
	exps-csv predict serve artifacts clean-venv

help: ## List the targets, one line each.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The pipeline alone: what `make repro` needs.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

# The tests also need pytest, ruff and Playwright, the `s3` extra (dvc-s3 and rclone, the S3
# server of the team-remote tests), the `cluster` extra (dask and distributed, the cluster
# tests), and Debian's chromium for the browser tests (installed when absent and apt-get can:
# as root; otherwise those tests say how, and CI fails them).
$(VENV)/.installed-test: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -e '.[test,s3,cluster]'
	command -v chromium >/dev/null || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] \
		|| (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	touch $@

repro: $(VENV)/.installed ## Run the default pipeline on real MNIST (dvc repro).
	python src/artifacts.py
	dvc repro

test: $(VENV)/.installed-test ## Lint, format check, then every test (what CI runs).
	ruff check .
	ruff format --check .
	pytest

test-fast: $(VENV)/.installed-test ## The tests not marked slow (no dvc runs, no full MNIST): for editing.
	pytest -m "not slow" -q

lint: $(VENV)/.installed-test ## ruff check and ruff format --check.
	ruff check .
	ruff format --check .

plots: $(VENV)/.installed ## dvc repro, then every plot into build/plots/index.html (renders offline).
	dvc repro
	dvc plots show -o build/plots

results: $(VENV)/.installed ## Rewrite the README's Results table from metrics/.
	python src/leaderboard.py --readme README.md

REV ?= workspace
leaderboard: $(VENV)/.installed ## One row per model, sorted: make leaderboard REV=<git rev or exp>.
	python src/leaderboard.py --rev $(REV)

A ?= HEAD
B ?= workspace
compare: $(VENV)/.installed ## Paired test of every model: make compare A=main B=<branch or exp>.
	python src/compare.py $(A) $(B)

SCHEDULER ?= tcp://127.0.0.1:8786
ORIGIN ?= $(shell git remote get-url origin 2>/dev/null)
GRID ?= pca.n=10,20,30,40,50,60
cluster: $(VENV)/.installed ## Sweep GRID on a Dask cluster: make cluster SCHEDULER=tcp://host:8786 GRID='pca.n=10,20'.
	@test -x $(VENV)/bin/dask || $(VENV)/bin/pip install --quiet -e '.[cluster]'
	python src/cluster.py --scheduler $(SCHEDULER) --origin $(ORIGIN) $(addprefix -S ,$(GRID))

sweep: $(VENV)/.installed ## Report the finished dvc exp sweep of this commit into build/sweep/.
	python src/sweep.py --out build/sweep

MODEL ?= knn
SPACE ?= models.knn.k=int(1,10) pca.n=int(20,100)
TRIALS ?= 20
tune: $(VENV)/.installed ## Optuna tunes MODEL on val, a dvc exp per trial: make tune MODEL=svm SPACE='models.svm.C=log(1,100)'.
	python src/tune.py --model $(MODEL) $(foreach s,$(SPACE),-S '$(s)') --trials $(TRIALS)

BASELINE ?=
exps-csv: $(VENV)/.installed ## dvc exp show's full table as CSV (pandas.read_csv reads it): build/exps.csv.
	mkdir -p build
	dvc exp show --csv $(if $(BASELINE),--rev $(BASELINE)) > build/exps.csv.tmp
	mv build/exps.csv.tmp build/exps.csv

IMAGES ?= docs/predict/examples
predict: $(VENV)/.installed ## Classify digit pictures: make predict IMAGES="a.png b.jpg folder/".
	python src/predict.py $(IMAGES)

serve: $(VENV)/.installed ## The draw-a-digit page on http://127.0.0.1:8021/ (every trained model).
	python src/serve.py

artifacts: $(VENV)/.installed ## Rewrite dvc.yaml's artifacts: from params.yaml's models.
	python src/artifacts.py

clean-venv: ## Delete the virtual environment.
	rm -rf $(VENV)
