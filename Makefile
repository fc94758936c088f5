# Neural ODEs from Scratch: build the book, run the tests, make the student edition.
#
#   make book        build the site into _build/html (executes the chapters that changed)
#   make test        run the whole test suite (nodelib, chapter notebooks, repository checks, ruff)
#
# Both create or update the virtual environment .venv first; nothing needs installing by hand
# except Python 3.10+ and make. Run `make help` for the other targets.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv book test lint grade site-check student colab-sync colab-sync-check colab-check bench clean

help:
	@echo "make book         build the book into _build/html (executes only the chapters whose code changed)"
	@echo "make test         run the test suite: tests/, every chapter notebook and ruff (PYTEST_ARGS=... to pass options)"
	@echo "make lint         run ruff over nodelib, tools, benchmarks, tests and the notebooks' code"
	@echo "make grade SUBMISSIONS=dir/  run every submitted notebook (fresh kernel, time limit); write grades.csv"
	@echo "make site-check   build the book (make book) and check every page in headless Chromium (maths, images, links, Colab, solutions, axe)"
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

# MathJax is served by the site itself (offline pages): tools/site_assets.py copies it from a
# Python package of requirements.txt into _vendor/mathjax/, which _config.yml serves. No npm.
MATHJAX := _vendor/mathjax/tex-chtml.js

$(MATHJAX): $(STAMP) tools/site_assets.py
	$(BIN)/python tools/site_assets.py

# Notebooks are executed through jupyter-cache (_config.yml): only those whose code changed run.
# tools/book_cache.py empties the cache first when nodelib or requirements.txt changed.
# BOOK_JOBS notebooks are executed at a time (before Sphinx, which then finds them all cached).
# NODELIB_PROGRESS=summary: nodelib.fit prints one line per training run instead of a
# progress bar, which a static page would show frozen at its first frame.
BOOK_JOBS ?= 2

book: $(STAMP) $(MATHJAX)
	NODELIB_PROGRESS=summary $(BIN)/python tools/book_cache.py --execute --jobs $(BOOK_JOBS)
	$(BIN)/jupyter-book build .
	@echo
	@echo "The book is in _build/html: open $(CURDIR)/_build/html/index.html in a browser."

lint: $(STAMP)
	$(BIN)/ruff check .

# Runs students' code: see "Grading submissions" in instructors.md.
SUBMISSIONS ?=
GRADE_ARGS ?=

grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "Say where the submissions are: make grade SUBMISSIONS=path/to/folder/ (a folder of .ipynb files)" >&2; exit 2; }
	$(BIN)/python tools/grade.py "$(SUBMISSIONS)" $(GRADE_ARGS)

# TEST_JOBS test files (a notebook is one) run at a time, in pytest-xdist workers.
TEST_JOBS ?= 2

test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

# The browser check drives the system's Chromium (/usr/bin/chromium; Debian: apt-get install chromium)
# and injects axe-core, which npm installs from package-lock.json into node_modules/.
SITE_STAMP := $(VENV)/.stamp-site
NODE_MODULES := node_modules/.package-lock.json

$(NODE_MODULES): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm was not found: make site-check needs Node.js and npm (Node.js >= 18) to install axe-core, the accessibility checker it runs in every page (building the book does not). Install them (Debian/Ubuntu: apt-get install nodejs npm; macOS: brew install node) and run make again." >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

$(SITE_STAMP): $(STAMP) requirements-site.txt
	$(BIN)/python -m pip install -r requirements-site.txt
	touch $@

# Reuses the build of `make book`: after a build, this one executes no notebook.
site-check: $(SITE_STAMP) $(NODE_MODULES) book
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
	rm -rf _build _vendor student .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -prune -exec rm -rf {} +
