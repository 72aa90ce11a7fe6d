# Set-up, tests and demo of aihw_jax.
#
# Every target creates what it needs: the virtual environment (.venv, or the
# active one when $VIRTUAL_ENV is set), the editable install with test extras,
# Debian's dataset-fashion-mnist, postgresql and chromium packages (when
# running as root) and the TFDS build of Fashion-MNIST. Steps that are already
# done are skipped.
#
#   make test  PYTEST_ARGS='-k datasets'   run the test suite
#   make demo  DEMO_ARGS='--epochs 1'      train the demo network
#   make data                              only prepare the data set
#   make bench                             run bench/run.py
#   make docs                              build the documentation site
#   make clean                             delete caches and build files

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON3 ?= python3
DEMO_ARGS ?=
PYTEST_ARGS ?=

ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
PYTHON := $(VENV)/bin/python
INSTALL_STAMP := $(VENV)/.aihw_jax-install.stamp
FASHION_MNIST_IDX_DIR := /usr/share/datasets/fashion-mnist
POSTGRES_INITDB := /usr/lib/postgresql/15/bin/initdb
CHROMEDRIVER := /usr/bin/chromedriver

# Install Debian packages, and refresh the package lists only if that fails.
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
define apt_install
$(APT_INSTALL) $(1) || { apt-get update && $(APT_INSTALL) $(1); }
endef

.PHONY: test demo data bench docs install fashion-mnist-idx postgresql chromium clean

test: data postgresql chromium
	$(PYTHON) -m pytest -q $(PYTEST_ARGS)

# Offline: no inventory of other projects is fetched. Warnings are errors.
docs: install
	$(PYTHON) -m sphinx -W --keep-going -b html docs docs/_build/html

demo: data
	$(PYTHON) -m aihw_jax.experiments.demo $(DEMO_ARGS)

bench: data
	$(PYTHON) bench/run.py

data: install fashion-mnist-idx
	$(PYTHON) -m aihw_jax.datasets prepare

install: $(INSTALL_STAMP)

# Debian installs python3 without venv support (ensurepip). A failed attempt
# leaves a broken environment behind, so it is deleted before the retry.
$(PYTHON):
	if ! command -v $(PYTHON3) >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  $(call apt_install,python3 python3-venv); \
	fi
	if ! $(PYTHON3) -m venv $(VENV); then \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "error: '$(PYTHON3) -m venv' failed; install python3-venv as root" >&2; \
	    exit 1; \
	  fi; \
	  $(call apt_install,python3-venv); \
	  $(PYTHON3) -m venv $(VENV); \
	fi

$(INSTALL_STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -e '.[test]'
	touch $@

# Without root, the data set can still come from $AIHW_JAX_FASHION_MNIST_IDX_DIR
# or from a download with AIHW_JAX_ALLOW_DOWNLOAD=1, so only a note is printed.
fashion-mnist-idx:
	if [ ! -d $(FASHION_MNIST_IDX_DIR) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    $(call apt_install,dataset-fashion-mnist); \
	  else \
	    echo "note: $(FASHION_MNIST_IDX_DIR) is missing; run" \
	      "'apt-get install dataset-fashion-mnist' as root" >&2; \
	  fi; \
	fi

# The service tests start a PostgreSQL 15 server of their own and skip
# without these binaries.
postgresql:
	if [ ! -x $(POSTGRES_INITDB) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    $(call apt_install,postgresql); \
	  else \
	    echo "note: $(POSTGRES_INITDB) is missing, so the PostgreSQL service" \
	      "test is skipped; run 'apt-get install postgresql' as root" >&2; \
	  fi; \
	fi

# The browser tests of the web pages drive Debian's headless Chromium and
# skip without it.
chromium:
	if [ ! -x $(CHROMEDRIVER) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    $(call apt_install,chromium chromium-driver); \
	  else \
	    echo "note: $(CHROMEDRIVER) is missing, so the browser tests are" \
	      "skipped; run 'apt-get install chromium chromium-driver' as root" >&2; \
	  fi; \
	fi

# The virtual environment and the built data set (outside the repository, see
# docs/data.md) are kept. Only the install stamp goes, so that the next target
# installs the package again.
clean:
	rm -rf build docs/_build .pytest_cache aihw_jax.egg-info $(INSTALL_STAMP)
	find . -path ./.venv -prune -o -name __pycache__ -type d -print0 \
	  | xargs -0 rm -rf
