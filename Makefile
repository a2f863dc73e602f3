# aerial_nb — the two commands a newcomer needs:
#   make run    the whole pipeline on the default data (params/default.yaml), local Spark, local storage
#   make test   every notebook (nbdev-test), notebook outputs (nbval) and the integration tests (pytest)
# Both install what they need first (a virtual environment in .venv) and are safe to run twice.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PARAMS ?= params/default.yaml
# Spark 3.5 needs Java 8/11/17: prefer an installed OpenJDK 17 when JAVA_HOME is not set.
JAVA_HOME ?= $(firstword $(wildcard /usr/lib/jvm/java-17-openjdk-*))
export JAVA_HOME

.PHONY: run test install data export clean-nbs readme check-sync bench

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,export]"
	touch $@

install: $(BIN)/.installed

# Where this project runs next to a shared data folder (../shared/data, as on its CI machine), use it as data/.
# Elsewhere put UC Merced and NAIP GeoTIFFs under data/ yourself (see README) or point settings.ini at them.
data:
	@if [ ! -e data ] && [ -d ../shared/data ]; then ln -s ../shared/data data && echo "data -> ../shared/data"; fi

run: install data
	$(BIN)/aerial-nb run $(PARAMS)

test: install
	$(BIN)/nbdev-test --n-workers 2
	$(BIN)/python -m pytest

export: install
	$(BIN)/nbdev-export

clean-nbs: install
	$(BIN)/nbdev-clean

readme: install
	$(BIN)/aerial-nb readme

# The library and README are generated: regenerating them must change nothing that is committed.
check-sync: install
	$(BIN)/nbdev-export && $(BIN)/aerial-nb readme
	@changed=$$(git status --porcelain -- aerial_nb README.md); \
	if [ -n "$$changed" ]; then echo "out of sync with nbs/ (run make export readme and commit):"; echo "$$changed"; exit 1; fi

# Featurizer throughput on the default image set: python loop vs SynapseML vs onnxruntime-on-Spark.
bench: install data
	$(BIN)/aerial-nb bench
