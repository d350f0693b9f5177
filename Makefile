# CDR Gateway — `make run` starts the whole system on its embedded defaults,
# `make test` sets up a fresh machine and runs every check and test.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PACKAGES := rights mapping regimes fhir_server hl7_listener card conformance cdr

# Debian packages later parts need (card tests: pcscd + virtual reader; portal: chromium;
# load tests: wrk). Installed with apt when running as root and missing.
DEBIAN_PACKAGES := pcscd vsmartcard-vpcd libpcsclite-dev swig pkg-config chromium wrk
# pyscard (the `card` extra) builds against libpcsclite: installed when its headers are there.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: help install system-deps card-deps run check test bench clean

help:
	@echo "make run     start the gateway with the embedded regime sandbox"
	@echo "make test    set up everything (venv, packages) then run make check and the tests"
	@echo "make check   ruff format --check, ruff check, mypy --strict, import-linter"
	@echo "make bench   run the benchmarks and print the ratios (see BENCHMARKS.md)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@extras=test; if pkg-config --exists libpcsclite 2>/dev/null; then extras=test,card; \
	else echo "note: libpcsclite-dev missing: pyscard (card readers) not installed"; fi; \
	echo "$(PIP_INSTALL) -e .[$$extras]"; \
	$(PIP_INSTALL) -e ".[$$extras]" --config-settings editable_mode=compat
	touch $(STAMP)

# After system-deps: a venv made before libpcsclite-dev was installed gets pyscard now.
card-deps: install system-deps
	@$(BIN)/python -c "import smartcard" 2>/dev/null || $(PIP_INSTALL) -e ".[test,card]" \
	  --config-settings editable_mode=compat || echo "note: pyscard could not be built" >&2

install: $(STAMP)

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "system packages: all present"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  echo "installing system packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	    || { echo "apt-get failed for:$$missing" >&2; exit 1; }; \
	else echo "note: not root; missing system packages:$$missing (needed by card/portal tests only)"; fi

# The demo card (cdr.demo_security) sits in vsmartcard's virtual reader, which pcscd serves: when
# pcscd is installed and not running, it runs beside the gateway and stops with it.
run: install
	@pid=""; \
	if command -v pcscd >/dev/null && ! pgrep -x pcscd >/dev/null && [ "$$(id -u)" = "0" ]; then \
	  pcscd --foreground >/dev/null 2>&1 & pid=$$!; echo "pcscd started for the demo card (it stops with the gateway)"; \
	elif ! command -v pcscd >/dev/null; then echo "note: no pcscd: the demo card needs it (make system-deps)"; fi; \
	trap 'if [ -n "$$pid" ]; then kill $$pid 2>/dev/null; fi' EXIT INT TERM; \
	$(BIN)/cdr serve

check: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# CDR_REQUIRE_PCSCD=1: the card tests fail, rather than skip, when pcscd cannot run;
# CDR_REQUIRE_BROWSER=1: the portal's browser tests fail, rather than skip, without chromium.
test: install system-deps card-deps check
	CDR_REQUIRE_PCSCD=1 CDR_REQUIRE_BROWSER=1 $(BIN)/pytest -q

# The Node.js peers of the HL7 benchmark (npm packages pinned by benchmarks/node_peers's lock file);
# without Node.js the benchmark says they were skipped.
bench: install
	@if command -v npm >/dev/null; then npm ci --prefix benchmarks/node_peers --no-audit --no-fund --loglevel=error; \
	else echo "note: npm not found; the HL7 benchmark skips its Node.js peers"; fi
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
