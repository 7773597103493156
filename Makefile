# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PORT ?= 8501
DEMO_USER ?= demo
DEMO_PASSWORD ?= homemovies-demo

.PHONY: demo test setup setup-dev system-deps lint

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(VENV)/bin/python -m pip install -q -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

setup: $(VENV)/.runtime node_modules/.installed

setup-dev: $(VENV)/.dev node_modules/.installed

# Install the app and play the bundled demo library (no cloud account needed).
demo: setup
	@echo "homemovies demo: open http://localhost:$(PORT) and sign in as $(DEMO_USER) / $(DEMO_PASSWORD)"
	HOMEMOVIES_USERNAME=$(DEMO_USER) HOMEMOVIES_PASSWORD=$(DEMO_PASSWORD) \
		$(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT) -- --library demo

# Chromium and ffmpeg for the browser tests and the encoded fixtures (Debian packages).
system-deps:
	@if ! command -v ffmpeg >/dev/null || [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium ffmpeg; \
	fi

# Style, the layers of lib/ (.importlinter) and types (mypy, strict; see pyproject.toml).
lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# Install everything and run every test, browser tests included.
test: setup-dev system-deps lint
	$(VENV)/bin/python -m pytest

# The container image (homemovies:dev), built with podman from stand-in bases made from Debian
# bookworm (scripts/image/bases.sh), for machines that cannot pull from Docker Hub.
.PHONY: image image-smoke
image:
	bash scripts/image/build.sh

# Run the image as a user would; Chromium signs in and plays an MP4 and an HLS title from it.
image-smoke: image $(VENV)/.dev
	PYTHON=$(abspath $(VENV))/bin/python bash scripts/image/smoke.sh
