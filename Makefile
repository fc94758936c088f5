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
.PHONY: help venv book test student colab-sync colab-check bench clean

help:
	@echo "make book         build the book into _build/html (executes every chapter)"
	@echo "make test         run the test suite: tests/ and every chapter notebook (PYTEST_ARGS=... to pass options)"
	@echo "make student      write the student edition (solutions removed) to student/"
	@echo "make colab-sync   rewrite the Colab set-up cell of every chapter from _config.yml"
	@echo "make colab-check  list the chapters whose Colab cell disagrees with _config.yml"
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

book: $(STAMP)
	$(BIN)/jupyter-book build .
	@echo
	@echo "The book is in _build/html: open $(CURDIR)/_build/html/index.html in a browser."

test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest $(PYTEST_ARGS)

student: $(STAMP)
	$(BIN)/python tools/make_student.py

colab-sync: $(STAMP)
	$(BIN)/python tools/sync_colab_cells.py

colab-check: $(STAMP)
	$(BIN)/python tools/sync_colab_cells.py --check

bench: $(STAMP)
	$(BIN)/python -m pip install -r requirements-bench.txt
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf _build student .pytest_cache
	find . -path ./$(VENV) -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -prune -exec rm -rf {} +
