# ldcbook: build the book, run the tests, regenerate the notebooks, run the benchmarks.
# Every target creates .venv and installs requirements.txt when they are missing or stale.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHAPTERS := $(sort $(wildcard book/[0-9][0-9]_*.py))
NOTEBOOKS := $(CHAPTERS:.py=.ipynb)
PYTEST_WORKERS ?= 2

.PHONY: help venv book test pytest nbval nbval-portable build-check offline-check notebooks \
	notebook bench clean

help:
	@echo "make book       execute every chapter (default scale) and build _build/html"
	@echo "make test       pytest, nbval over book/*.ipynb (twice: this CPU's kernels and"
	@echo "                the portable ones), and a no-execute build with -W"
	@echo "make notebooks  regenerate every book/*.ipynb from its .py source, with outputs"
	@echo "make notebook NB=book/01_lethal_dose.py   regenerate one notebook"
	@echo "make offline-check  build-check, then load chapters in headless Chromium with the"
	@echo "                network off (needs chromium; tools/check_offline.py)"
	@echo "make bench      run the benchmarks under bench/"
	@echo "make clean      remove _build and caches (keeps .venv)"

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ldcbook)" > /dev/null
	touch $(STAMP)

venv: $(STAMP)

# require.js and the widget manager, pinned npm packages that the book serves itself
# (tools/offline_widgets.py), so that pages with widgets render offline too.
WIDGET_JS := $(VENV)/share/ldcbook-offline-js/.installed

$(WIDGET_JS): tools/offline_widgets.py | $(STAMP)
	$(BIN)/python tools/offline_widgets.py install

book: $(STAMP) $(WIDGET_JS)
	$(BIN)/jupyter-book build --all -W --keep-going .
	@echo "Open _build/html/index.html in a browser."

test: $(STAMP)
	$(MAKE) --no-print-directory pytest nbval nbval-portable build-check

# The end-to-end runs of the full-scale branches execute whole chapters in kernels of
# their own: run alone, after the others, so that they do not compete for the cores
# with a second test worker (measured: 46 s alone, up to 346 s beside other tests).
pytest: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --ignore=tests/test_fullscale.py tests
	$(BIN)/python -m pytest tests/test_fullscale.py

nbval: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile \
	  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	  $(NOTEBOOKS)

# The same replay with another family of kernels: torch's portable ("default") CPU
# kernels and numpy without its run-time dispatched SIMD paths (AVX2, AVX-512, ...),
# as on an older CPU. The committed outputs must hold on any machine.
NPY_DISPATCHED = $(BIN)/python -c "from numpy._core._multiarray_umath import \
  __cpu_dispatch__ as d, __cpu_features__ as f; print(' '.join(x for x in d if f.get(x)))"

nbval-portable: $(STAMP)
	ATEN_CPU_CAPABILITY=default NPY_DISABLE_CPU_FEATURES="$$($(NPY_DISPATCHED))" \
	$(BIN)/python -m pytest -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile \
	  --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	  $(NOTEBOOKS)

# Build the book from the committed outputs, without executing: broken cross-references,
# citations or glue fail here.
build-check: $(STAMP) $(WIDGET_JS)
	sed 's/^\(\s*execute_notebooks:\).*/\1 "off"/' _config.yml > .config-noexec.yml
	$(BIN)/jupyter-book build --all -W --keep-going --config .config-noexec.yml \
	  --path-output _build/check .

# Serve that build on localhost and load chapters in headless Chromium with every other
# host blocked: math typeset, figures loaded, widgets rendered from their saved state.
offline-check: build-check
	$(BIN)/python tools/check_offline.py _build/check/_build/html

notebooks: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py $(CHAPTERS)

notebook: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py $(NB)

bench: $(STAMP)
	$(BIN)/python bench/certify.py
	$(BIN)/python bench/ensemble.py
	$(BIN)/python bench/own.py
	$(BIN)/python bench/attacks.py

clean:
	rm -rf _build .pytest_cache .hypothesis
