# make run   : install what the app needs (once) and start the dashboard
# make test  : install everything (incl. Debian chromium for the browser test) and run lint + tests
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)

# Offline data and weights on machines that have the shared folder beside the repository.
ifneq ($(wildcard $(SHARED)/datasets/oxford_flowers102/setid.mat),)
export FLOWERDASH_DATA_DIR ?= $(SHARED)/datasets/oxford_flowers102
endif
ifneq ($(wildcard $(SHARED)/weights),)
export FLOWERDASH_WEIGHTS_DIR ?= $(SHARED)/weights
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: run test lint browser benchmark results clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) -m streamlit run streamlit_app.py

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y chromium; }

lint: $(VENV)/.dev
	$(PY) -m ruff check .

test: $(VENV)/.dev browser lint
	$(PY) -m pytest

benchmark: $(VENV)/.dev
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
