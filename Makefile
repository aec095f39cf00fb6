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

# serve.py is streamlit_app.py with its models prepared from server start (see serve.py).
run: $(VENV)/.runtime
	$(PY) -m streamlit run serve.py

# Debian chromium for the browser test, and a colour emoji font (page titles and icons show
# empty boxes without one). Unattended: CI=true makes sudo fail instead of asking for a password
# on a missing stdin, and DEBIAN_FRONTEND is passed through sudo so apt never asks either.
browser:
	@if command -v chromium >/dev/null 2>&1 && dpkg -s fonts-noto-color-emoji >/dev/null 2>&1; then \
	  :; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo $${CI:+-n}" ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-color-emoji; \
	fi

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(VENV)/.dev browser lint
	$(PY) -m pytest

benchmark: $(VENV)/.dev
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
