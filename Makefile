# Two commands: `make run` opens the app, `make test` runs the whole suite. Both create .venv and
# install the pinned requirements on first use (and again only when a requirements file changes).

# The first Python >= 3.11 on PATH (override: make run PYTHON=/path/to/python3.12).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 7860
# Linux with an NVIDIA GPU: `make run MLX_EXTRA=cuda13` installs mlx[cuda13] instead of the CPU backend.
MLX_EXTRA ?=

.PHONY: run test browser doctor bench clean-venv

run: $(VENV)/.installed
	$(PY) app.py --port $(PORT)

test: $(VENV)/.installed $(VENV)/.test-installed browser
	$(VENV)/bin/lint-imports --no-cache
	MLX_DISABLE_COMPILE=1 $(PY) -m pytest

doctor: $(VENV)/.installed
	$(PY) -m core doctor

bench: $(VENV)/.installed $(VENV)/.test-installed
	@for b in bench/*.py; do echo "== $$b"; MLX_DISABLE_COMPILE=1 $(PY) $$b || exit 1; done

$(PY):
	@if [ -z "$(PYTHON)" ]; then \
		echo "Python 3.11 or newer is needed and none was found on PATH."; \
		echo "Install one (on a Mac: brew install python@3.12), then run make again."; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-mflux.txt | $(PY)
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -r requirements-mflux.txt
ifneq ($(MLX_EXTRA),)
	$(PY) -m pip uninstall -y mlx-cpu
	$(PY) -m pip install "mlx[$(MLX_EXTRA)]==0.32.2"
endif
	@touch $@

$(VENV)/.test-installed: requirements-test.txt $(VENV)/.installed
	$(PY) -m pip install -r requirements-test.txt
	@touch $@

# The browser tests' Chromium: the system's when there is one; otherwise Debian/Ubuntu's chromium and
# fonts-noto-cjk through apt-get (as root or with sudo), Playwright's own on a Mac, and elsewhere one sentence
# saying what to install (tests/support/browser.py).
browser: $(VENV)/.test-installed
	@$(PY) -m tests.support.browser

clean-venv:
	rm -rf $(VENV)
