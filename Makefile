# Two commands set up and check everything on a fresh machine with Python 3.11:
#   make build   execute every lesson notebook into build/ (and export what they produce)
#   make test    unit tests + nbval over the committed notebooks
# Both create .venv from requirements.txt first (about 1 minute, 2.6 GB).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL  := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: build test toolchains refresh lint benchmark clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found " + sys.version.split()[0] + "): set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

build: $(STAMP) toolchains
	$(BIN)/python -m tinyml_helpers.build

test: $(STAMP) toolchains
	$(BIN)/python -m pytest tests notebooks $(NBVAL)

# Offline board toolchains (avr-gcc, simavr, arm-none-eabi-gcc, QEMU) from Debian, when this
# runs as root with apt-get; otherwise one line says what to install and the tests skip.
toolchains: $(STAMP)
	$(BIN)/python -m tinyml_helpers.toolchains install

# Authors: re-execute the source notebooks in place after changing them or the helpers.
refresh: $(STAMP)
	$(BIN)/python -m tinyml_helpers.build --refresh

lint: $(STAMP)
	$(BIN)/ruff check tinyml_helpers tests benchmarks notebooks

# Measurements behind README's results tables (each prints a table; ~6 minutes in all).
benchmark: $(STAMP) toolchains
	$(BIN)/python benchmarks/notebook_times.py
	$(BIN)/python benchmarks/firmware_report.py
	$(BIN)/python benchmarks/compression.py
	$(BIN)/python benchmarks/anomaly_auc.py
	$(BIN)/python benchmarks/fan_detector_report.py

clean:
	rm -rf build
