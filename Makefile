# Neural ODEs from Scratch: build the book, run the tests, make the student edition.
#
#   make book        build the site into _build/html (runs every chapter)
#   make test        run the whole test suite (nodelib, chapter notebooks, repository checks)
#
# Both create or update the virtual environment .venv first; nothing needs installing by hand
# except Python 3.10+ and make. Run `make help` for the other targets.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv book test site-check student colab-sync colab-sync-check colab-check bench clean

help:
	@echo "make book         build the book into _build/html (executes every chapter)"
	@echo "make test         run the test suite: tests/ and every chapter notebook (PYTEST_ARGS=... to pass options)"
	@echo "make site-check   build the book and check every page in headless Chromium (maths, images, links, Colab, solutions, axe)"
	@echo "make student      write the student edition (solutions removed) to student/"
	@echo "make colab-sync   rewrite each chapter's Colab set-up cell (from _config.yml) and 'Last verified' line (from tools/colab_env.txt)"
	@echo "make colab-sync-check  list the chapters whose Colab cell or 'Last verified' line is out of step"
	@echo "make colab-check  run every chapter and the student edition as Colab would: fresh venv with Colab's Python 3.13,"
	@echo "                  jax, numpy, matplotlib (tools/colab_env.txt), nodelib installed by the Colab cell from git"
	@echo "make bench        install the peer libraries and run the benchmarks"
	@echo "make venv         create or update the virtual environment .venv only"
	@echo "make clean        remove build outputs and caches (keeps .venv)"

# The environment is rebuilt when the requirements change; .venv is created only if absent.
$(STAMP): requirements.txt pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	    { echo "Python 3.10 or newer is needed: run make with PYTHON=/path/to/python3.x" >&2; exit 1; }; \
	  echo "Creating $(VENV) with $(PYTHON)"; \
	  $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install -e . --no-deps
	touch $@

venv: $(STAMP)

# MathJax is served by the site itself (offline pages): npm installs the versions pinned in
# package-lock.json into node_modules/ (again whenever the lock file is newer), and
# tools/site_assets.py copies MathJax into _vendor/mathjax/, which _config.yml serves.
NODE_MODULES := node_modules/.package-lock.json
MATHJAX := _vendor/mathjax/tex-chtml.js

$(NODE_MODULES): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm was not found: building the book needs Node.js and npm (Node.js >= 18) to install MathJax, which the site serves itself. Install them (Debian/Ubuntu: apt-get install nodejs npm; macOS: brew install node) and run make again." >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

$(MATHJAX): $(NODE_MODULES) tools/site_assets.py
	$(PYTHON) tools/site_assets.py

book: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build .
	@echo
	@echo "The book is in _build/html: open $(CURDIR)/_build/html/index.html in a browser."

test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser check drives the system's Chromium (/usr/bin/chromium; Debian: apt-get install chromium).
SITE_STAMP := $(VENV)/.stamp-site

$(SITE_STAMP): $(STAMP) requirements-site.txt
	$(BIN)/python -m pip install -r requirements-site.txt
	touch $@

site-check: $(SITE_STAMP) $(NODE_MODULES)
	$(MAKE) book
	$(BIN)/python tools/site_check.py

student: $(STAMP)
	$(BIN)/python tools/make_student.py

colab-sync: $(STAMP)
	$(BIN)/python tools/sync_colab_cells.py
	$(BIN)/python tools/colab_check.py --sync-verified

colab-sync-check: $(STAMP)
	$(BIN)/python tools/sync_colab_cells.py --check
	$(BIN)/python tools/colab_check.py --check-verified

# Needs no .venv: the script uses the standard library only and builds its own environment,
# _build/colab-venv, from scratch (COLAB_PYTHON=/path/to/python3.13 picks the interpreter).
colab-check:
	$(PYTHON) tools/colab_check.py

# Writes appendix/results/benchmark_results.md (included by appendix/benchmarks.md).
# BENCH_ARGS=--quick for a smoke test; BENCH_ARGS="--only neural" for some scripts only.
BENCH_ARGS ?=

bench: $(STAMP)
	$(BIN)/python -m pip install -r requirements-bench.txt
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf _build _vendor student .pytest_cache
	find . -path ./$(VENV) -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -prune -exec rm -rf {} +
