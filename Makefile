# Two commands set up and check everything on a fresh machine with Python 3.11:
#   make build   execute every lesson notebook into build/ (and export what they produce)
#   make test    unit tests + nbval over the committed notebooks, on this CPU and as another
#                CPU would run them; the Arduino/Wokwi projects regenerated and compared
#   make lab     open the lessons in JupyterLab, in your browser, with working widgets
# Each creates .venv from requirements.txt first (about 1 minute, 3 GB).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL  := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg
# The committed outputs are what every x86-64 CPU computes. An arm64 CPU (Apple Silicon) runs
# other TensorFlow kernels and cannot match them to the last digit: there every lesson still
# runs and every assert in it must hold, but outputs are not compared and neither are the
# regenerated projects.
X86_64 := $(filter x86_64 amd64 AMD64,$(shell uname -m))
ifeq ($(X86_64),)
NBVAL  := --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg
endif
# Where the lessons run under nbval write their exports (their default export_dir).
TEST_EXPORT := notebooks/build/export
# The lessons as another computer runs them: oneDNN (TensorFlow's matmul) capped at SSE4.1,
# NumPy without its AVX2/AVX-512 code paths and OpenBLAS (NumPy's matrix products) on its oldest
# x86-64 kernels, as on a CPU from before 2013.
OTHER_CPU := ONEDNN_MAX_CPU_ISA=SSE41 NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR" \
             OPENBLAS_CORETYPE=Prescott

.PHONY: build test test-other-cpu colab toolchains lab refresh lint benchmark clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found " + sys.version.split()[0] + "): set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

# The regenerated arduino/ and wokwi/ replace the committed ones only when identical;
# `make build UPDATE=1` accepts differences (after changing a lesson on purpose).
build: $(STAMP) toolchains
	$(BIN)/python -m tinyml_helpers.tooling.build $(if $(UPDATE),--update-projects)

# --durations: the slowest tests and cells end the log, for whoever watches CI's time.
test: $(STAMP) toolchains
	$(BIN)/python -m pytest tests notebooks $(NBVAL) --durations=15
ifneq ($(X86_64),)
	$(BIN)/python -m tinyml_helpers.tooling.build --from-export $(TEST_EXPORT) --check
	$(MAKE) --no-print-directory test-other-cpu
endif

# The same lessons and projects must come out identical on another x86-64 CPU.
test-other-cpu: $(STAMP) toolchains
	$(OTHER_CPU) $(BIN)/python -m pytest notebooks $(NBVAL)
	$(OTHER_CPU) $(BIN)/python -m tinyml_helpers.tooling.build --from-export $(TEST_EXPORT) --check

# Every lesson alone in an empty folder under Colab's versions (Python 3.13, TF 2.20),
# the package installed non-editable as in Colab, then nbval against the committed outputs;
# skips with one line without Python 3.13.
colab:
	python3 tests/colab_runtime.py

# Offline board toolchains (avr-gcc, simavr, arm-none-eabi-gcc, QEMU) and Debian's Chromium
# (not a board tool: tests/test_browser.py opens the lessons in it), when this runs as root with
# apt-get; otherwise one line says what to install and those tests skip.
CHROMIUM := /usr/bin/chromium
APT      := DEBIAN_FRONTEND=noninteractive apt-get -q
toolchains: $(STAMP)
	$(BIN)/python -m tinyml_helpers.deploy.toolchains install
	@if [ -x $(CHROMIUM) ]; then echo "browser ready: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  $(APT) update >/dev/null && $(APT) install -y --no-install-recommends chromium >/dev/null \
	  && echo "browser ready: $(CHROMIUM)"; \
	else echo "skipping browser install: not root or no apt-get; install Debian's chromium" \
	  "(apt-get install chromium) or tests/test_browser.py skips"; fi

# Students: the lessons in JupyterLab, in your browser. Its kernel is this .venv's Python (so
# every import works) and ipywidgets' manager comes with it; as root JupyterLab refuses to start
# without --allow-root. Ctrl+C stops it.
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# Authors: re-execute the source notebooks in place after changing them or the helpers.
refresh: $(STAMP)
	$(BIN)/python -m tinyml_helpers.tooling.build --refresh

# ruff (pycodestyle, pyflakes, import order, bugbear) over the Python and the notebooks, and
# clang-format over the hand-written C (the generated copies in arduino/ and wokwi/ follow).
HAND_WRITTEN_C := $(wildcard tinyml_helpers/deploy/c/*.[ch] tinyml_helpers/fan_c/*.[ch] \
                    tinyml_helpers/deploy/harness/*.[ch] tinyml_helpers/deploy/tflm_harness/* \
                    tinyml_helpers/deploy/arduino_shim/* tinyml_helpers/deploy/esp_nn_host/*)
lint: $(STAMP)
	$(BIN)/ruff check tinyml_helpers tests benchmarks notebooks
	$(BIN)/clang-format --dry-run --Werror $(HAND_WRITTEN_C)

# Measurements behind README's results tables (each prints a table; ~6 minutes in all).
benchmark: $(STAMP) toolchains
	$(BIN)/python benchmarks/notebook_times.py
	$(BIN)/python benchmarks/firmware_report.py
	$(BIN)/python benchmarks/compression.py
	$(BIN)/python benchmarks/anomaly_methods.py
	$(BIN)/python benchmarks/fan_detector_report.py

clean:
	rm -rf build
