# aerial_nb — the two commands a newcomer needs:
#   make run    the whole pipeline on the default data (params/default.yaml), local Spark, local storage
#   make test   every notebook (nbdev-test), notebook outputs (nbval) and the integration tests (pytest)
# For contributors: make test-fast (the inner loop, no Spark session, cluster, Azurite or browser), make docs (the site).
# Both install what they need first (a virtual environment in .venv) and are safe to run twice.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PARAMS ?= params/default.yaml
# Spark 3.5 needs Java 8/11/17: prefer an installed OpenJDK 17 when JAVA_HOME is not set.
JAVA_HOME ?= $(firstword $(wildcard /usr/lib/jvm/java-17-openjdk-*))
export JAVA_HOME

.PHONY: run test test-fast install install-docs data export clean-nbs readme check-sync bench docs docs-run test-site

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,export]"
	sh tools/native_blas.sh
	touch $@

install: $(BIN)/.installed

# The documentation site's tools (the `docs` extra), on top of the package.
$(BIN)/.docs-installed: $(BIN)/.installed
	$(BIN)/python -m pip install -q -e ".[dev,export,docs]"
	touch $@

install-docs: $(BIN)/.docs-installed

# Where this project runs next to a shared data folder (../shared/data, as on its CI machine), use it as data/.
# Elsewhere put UC Merced and NAIP GeoTIFFs under data/ yourself (see README) or point settings.ini at them.
data:
	@if [ ! -e data ] && [ -d ../shared/data ]; then ln -s ../shared/data data && echo "data -> ../shared/data"; fi

run: install data
	$(BIN)/aerial-nb run $(PARAMS)

# The tests' temporary files (fixture runs, exported models, demo folders: about 2 GB over a make test) go to a scratch
# folder removed when the tests end, pass or fail, instead of piling up in /tmp (Python's tempfile follows TMPDIR).
IN_SCRATCH = scratch=$$(mktemp -d -t aerial_nb-tests-XXXXXX) && trap 'rm -rf "$$scratch"' EXIT && export TMPDIR="$$scratch" &&

test: install
	$(IN_SCRATCH) $(BIN)/nbdev-test --n-workers 2 --timing && $(BIN)/python -m pytest

# The fast tier, for the inner loop of a change: no Spark session, cluster, Azurite or browser.
# 1. The notebooks' own tests on their fixtures, except the notebooks whose tests start Spark (tests/notebook_tiers.py
#    finds them from the notebooks; 00c_cluster starts a cluster). make test runs those too.
# 2. Every pytest test not marked slow (unit, CLI errors, real-data checks without Spark), spread over the cores
#    (pytest-xdist; a module marked xdist_group stays on one worker, its module fixture made once).
#    `pytest -m "not slow"` runs the same tests one at a time.
# Both print where the time went (--timing; pytest's --durations and its time per tier).
test-fast: install
	$(IN_SCRATCH) $(BIN)/nbdev-test --n-workers 2 --timing --skip-file-re '$(shell $(PYTHON) tests/notebook_tiers.py --skip-re)' \
	  && $(BIN)/python -m pytest -m "not slow" -n auto --dist loadgroup

# The documentation site, offline, into _docs/: every notebook a page with real outputs (the step notebooks from the
# newest finished run, the others executed on their fixtures: the first time, or when their code changed, about 10
# minutes on 2 cores), API reference from the docstrings, search without any CDN.
docs: install-docs
	@# a notebook that fails here fails make test too; its page keeps the committed notebook, saying so
	$(BIN)/python docs/execute.py --stale || echo "docs: some notebooks failed (above); building the site anyway"
	$(BIN)/python docs/stage.py
	@# Material prints its end-of-life notice (May 2027; Zensical, its successor, reads the same mkdocs.yml) on every build
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build -q -f _proc/mkdocs.yml

# Saved outputs that mean something: run the pipeline on the real data ($(PARAMS); DOCS_RUN_ARGS adds e.g.
# --set sample_frac=0.1), then build the site from it (make docs executes the other notebooks where it must).
DOCS_RUN_ARGS ?=
docs-run: install-docs data
	$(BIN)/aerial-nb run $(PARAMS) $(DOCS_RUN_ARGS)
	$(MAKE) docs

# The site in headless Chromium with no network (tests/test_docs_site.py): make docs first.
test-site: install
	$(BIN)/python -m pytest tests/test_docs_site.py

# nbdev-export, then what nbdev writes past 120 characters rewrapped (`__all__` lists, the symbol index _modidx.py).
export: install
	$(BIN)/nbdev-export && $(BIN)/python tools/wrap_all.py

clean-nbs: install
	$(BIN)/nbdev-clean

readme: install
	$(BIN)/aerial-nb readme

# The library and README (and, written from aerial_nb.run_params, the README's parameter table in nbs/index.ipynb and the
# step notebooks' parameters cells) are generated: regenerating them must change nothing that is committed.
check-sync: install
	$(BIN)/nbdev-export && $(BIN)/python tools/wrap_all.py && $(BIN)/aerial-nb readme
	@changed=$$(git status --porcelain -- aerial_nb README.md nbs); \
	if [ -n "$$changed" ]; then echo "out of sync with nbs/ (run make export readme and commit):"; echo "$$changed"; exit 1; fi
	$(BIN)/ruff check aerial_nb

# Featurizer throughput on the default image set: python loop vs SynapseML vs onnxruntime-on-Spark; then training
# time, Spark ML's logistic regression against scikit-learn's, on EuroSAT (data/eurosat) at 4 sizes.
bench: install data
	$(BIN)/aerial-nb bench
