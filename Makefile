# The two commands of the README are the contract: `make run` and `make test` work on a fresh
# machine with only Python 3.11, Node/npm and Debian's apt. Everything else is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATADIR ?= .data
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests drive as independent checkers: qemu-img (VHD), vncsnapshot (a real
# VNC client for the console), djpeg (to read its JPEG screenshots), systemd-analyze (unit checks),
# binutils (PyInstaller's strip/objdump, readelf in the binary tests).
APT_PACKAGES := qemu-utils vncsnapshot libjpeg-turbo-progs systemd binutils

.PHONY: run test lint unit bench deps system-deps js-deps clean binary

run: $(STAMP)
	$(BIN)/xo-server --demo --datadir $(DATADIR)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

deps: $(STAMP)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

js-deps: tests/js/node_modules/.installed

tests/js/node_modules/.installed: tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check xo tests bench appliance

test: $(STAMP) system-deps js-deps lint
	$(BIN)/pytest -q

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# One self-contained executable, dist/xo (PyInstaller, cached by a hash of the sources).
binary: $(STAMP)
	appliance/build.sh

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info tests/js/node_modules
