# Executable Theories of Large Language Models: the two commands are `make book` and `make test`.
# Everything they need is installed here, from the package registries; nothing by hand.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MATHJAX := _vendor/mathjax/tex-mml-chtml.js
NODE_STAMP := node_modules/.installed-stamp
AXE := node_modules/axe-core/axe.min.js
# Debian's chromium (installed below when missing and run as root); elsewhere, e.g. Ubuntu's snap:
# make test CHROMIUM=/snap/bin/chromium. The browser tests read it from the environment.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
LINTED := lib tests book benchmarks scripts
# torch comes first, from TORCH_INDEX (PyTorch's CPU wheels by default; a GPU build with e.g.
# TORCH_INDEX=https://download.pytorch.org/whl/cu126, or the default index with TORCH_INDEX=);
# the version is pyproject.toml's pin. Where TORCH_INDEX is unreachable, the default index.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIN := $(shell grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')
# `make bench` and `make test` measure into BENCH_OUT (ignored by git); `make bench-record`
# rewrites the committed record that the execution report shows when BENCH_OUT is absent.
BENCH_OUT := _build/benchmarks
BENCH_RECORD := book/back/benchmarks
# `make mutants` runs this many chapters at once (one thread each); `make test` only checks its record.
MUTANT_JOBS ?= 2

# Builds, tests and benchmarks run quietly (no progress bars) on one thread per chapter.
QUIET := LLMTHEORY_PROGRESS=0 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYDEVD_DISABLE_FILE_VALIDATION=1

.PHONY: help setup book html notebooks publish-notebooks test lint unit nbval bench bench-record budget mutants browser assignments grade lab strip clean distclean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(STAMP) $(MATHJAX)  ## Create .venv, install lib/ and the toolchain, vendor MathJax.

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON) is older): make ... PYTHON=python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@test -n '$(TORCH_PIN)' || { echo 'no "torch==VERSION" in pyproject.toml' >&2; exit 1; }
	if [ -z '$(TORCH_INDEX)' ]; then :; \
	elif $(BIN)/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' \
	    '$(TORCH_INDEX)/torch/' 2>/dev/null; then \
	  $(BIN)/pip install --quiet '$(TORCH_PIN)' --index-url '$(TORCH_INDEX)'; \
	else echo "torch: $(TORCH_INDEX) is not reachable; installing it from the default package index"; fi
	$(BIN)/pip install --quiet -e '.[book,test]'
	touch $@

# npm's packages (package.json): MathJax, vendored into the book, and axe-core, which the browser
# tests run over every page. Installed again whenever package.json or its lock changes.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	test -f $(AXE) || { echo "$(AXE) is missing after npm ci" >&2; exit 1; }
	touch $@

$(MATHJAX): $(NODE_STAMP)
	rm -rf _vendor/mathjax && mkdir -p _vendor/mathjax
	cd node_modules/mathjax/es5 && cp -r tex-mml-chtml.js input output ui a11y sre adaptors ../../../_vendor/mathjax/
	rm -rf _vendor/mathjax/output/svg _vendor/mathjax/output/svg.js
	cp node_modules/mathjax/LICENSE _vendor/mathjax/

$(CHROMIUM):
	@test "$$(id -u)" = 0 || { echo "$(CHROMIUM) is missing: install Chromium, or set CHROMIUM=<path>" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

book: setup  ## Set everything up, execute every chapter and build the HTML book into _build/html.
	$(MAKE) --no-print-directory html

html:
	$(QUIET) $(BIN)/jupyter-book build . --builder html -W -n --keep-going
	test -f _build/html/index.html

notebooks: setup  ## Plain-notebook editions for Colab and other front ends, into _build/notebooks.
	@# sphinx-tojupyter reads the doctrees of the HTML build (chapters executed once, not again).
	test -f _build/html/index.html || $(MAKE) --no-print-directory html
	@# From scratch, so that no edition keeps numbers from an earlier build; the doctrees are reused.
	rm -rf _build/jupyter
	$(QUIET) $(BIN)/jupyter-book build . --builder custom --custom-builder jupyter -W -n --keep-going
	$(BIN)/python scripts/make_notebooks.py --source _build/jupyter --html _build/html --out _build/notebooks

publish-notebooks: notebooks  ## Commit the plain editions to the branch the Colab buttons open (then git push).
	$(BIN)/python scripts/publish_notebooks.py

lint: $(STAMP)  ## ruff (lint and format) over lib, tests, notebooks and scripts.
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

unit: $(STAMP)  ## Library tests and environment checks (Binder, toc, notebook structure).
	$(QUIET) $(BIN)/pytest tests --ignore=tests/book -q -p no:cacheprovider

nbval: $(STAMP)  ## Execute every notebook as a test (a cell that raises fails).
	$(QUIET) $(BIN)/pytest --nbval-lax -q -p no:cacheprovider -n 2 --dist loadfile $(NOTEBOOKS)

bench: $(STAMP)  ## Time every chapter (one core) and the micro-benchmarks into _build/benchmarks/.
	$(QUIET) $(BIN)/python benchmarks/run_all.py --out $(BENCH_OUT)

bench-record: $(STAMP)  ## As bench, into book/back/benchmarks/: the committed record the book shows.
	$(QUIET) $(BIN)/python benchmarks/run_all.py --out $(BENCH_RECORD)

budget: $(STAMP)  ## Fail when a chapter in _build/benchmarks/ exceeds 3 min on one core or 1 GB.
	$(QUIET) LLMTHEORY_BENCHMARKS=$(BENCH_OUT) $(BIN)/pytest tests/book/test_budget.py -q -p no:cacheprovider

mutants: $(STAMP)  ## Plant each catalogued bug in every chapter running its code (incremental): book/back/mutants/.
	$(QUIET) $(BIN)/python scripts/run_mutants.py --jobs $(MUTANT_JOBS)

browser: $(STAMP) $(NODE_STAMP) $(CHROMIUM)  ## Every built page in headless Chromium: rendering, layout, figures, numbering, axe-core.
	$(QUIET) $(BIN)/pytest tests/book/test_html.py tests/book/test_page.py -q -p no:cacheprovider

assignments: notebooks  ## Course kit (Otter-Grader): student/instructor editions, autograders in _build/assignments.
	$(BIN)/python scripts/make_assignments.py --editions _build/notebooks --out _build/assignments

grade: $(STAMP)  ## Grade SUBMISSIONS=<folder of notebooks> (otter run, no Docker): _build/grades/gradebook.csv, feedback/.
	@test -n '$(SUBMISSIONS)' || { echo 'usage: make grade SUBMISSIONS=<folder of student notebooks>' >&2; exit 1; }
	test -d _build/assignments/autograder || $(MAKE) --no-print-directory assignments
	$(QUIET) $(BIN)/python scripts/grade.py '$(SUBMISSIONS)' --autograders _build/assignments/autograder --out _build/grades

test: setup $(CHROMIUM)  ## The whole gate: lint, lib tests, nbval, budgets, book build (-W), editions, browsers.
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory nbval
	$(MAKE) --no-print-directory bench
	$(MAKE) --no-print-directory budget
	$(MAKE) --no-print-directory html
	$(MAKE) --no-print-directory notebooks
	$(QUIET) $(BIN)/pytest tests/book -q -p no:cacheprovider --ignore=tests/book/test_budget.py
	test -f _build/html/index.html

lab: setup  ## Open the chapters in JupyterLab.
	$(BIN)/jupyter lab book

strip: $(STAMP)  ## Remove outputs from every notebook (notebooks are committed without outputs).
	$(BIN)/jupyter nbconvert --clear-output --inplace --log-level=WARN $(NOTEBOOKS)

clean:  ## Remove the built book and assignments.
	rm -rf _build

distclean: clean  ## Also remove .venv, node_modules and the vendored MathJax.
	rm -rf $(VENV) node_modules _vendor
