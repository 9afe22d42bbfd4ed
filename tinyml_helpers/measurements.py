"""Measurements that need tools a lesson cannot run in under a minute, stored with the package.

``measured/tflm_vs_plain_c.json`` is written by ``benchmarks/tflm_vs_plain_c.py --write``
(TFLM built from source and the plain C, both on a simulated Cortex-M4F) and checked against a
fresh measurement by ``tests/test_tflm_sketch.py``; lesson 06 prints it. Its like-with-like rows
(TFLM's reference kernels against the plain C's reference kernels, TFLM + CMSIS-NN against the
plain C's fast paths, both plain-C builds on the Uno) are checked by
``tests/test_like_for_like.py``.
``measured/esp32_tflm.json`` is written by ``benchmarks/esp32_tflm_kernels.py --write`` (the
ESP32's TFLM builds, ESP-NN kernels included, against the TFLM runtime, and the TFLM sketch's
arena) and checked by ``tests/test_esp32_kernels.py``; lesson 06 prints it and the build writes
its arena into the TFLM sketch's ``model.h``. ``measured/per_tensor_cost.json`` (by
``benchmarks/per_tensor_cost.py --write``) is the accuracy that model's per-tensor Dense
quantization costs, over seeds; lesson 06 prints it beside its live seed.
``measured/digits_pruning.json`` (by ``benchmarks/digits_pruning.py --write``) is lesson 08's
structured-vs-unstructured pruning over seeds, with the costs on the simulated boards;
``measured/digits_tflm_vs_plain_c.json`` (by ``benchmarks/digits_tflm_vs_plain_c.py --write``)
is the four-way TFLM / plain-C table of lesson 08's int8 CNN on the Cortex-M4F.
``measured/anomaly_methods.json`` (by ``benchmarks/anomaly_methods.py --write``) is every
detector of lesson 07 over seeds, on the real fan recordings and on the simulated fan;
``measured/fan_live_budget.json`` (by ``benchmarks/fan_detector_report.py --write``) is what a live
accelerometer would need beside lesson 07's detector on each board (RAM, compute time).
``measured/int8_vs_float_boards.json`` is lesson 04's int8 vs float32 table on the simulated Uno
and Cortex-M4F; ``measured/compression_seeds.json`` lessons 03 and 04's training-dependent
figures over seeds; ``measured/distillation_seeds.json`` lesson 05's, over seeds;
``measured/micropython_qemu.json`` the generated MicroPython on MicroPython's own Cortex-M3
firmware, viper and pure (lesson 06); ``measured/sine_init.json`` lesson 01's three training
recipes (dead neurons, error) over seeds. :data:`WRITERS` names the benchmark that writes each file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FOLDER = Path(__file__).resolve().parent / "measured"
TFLM_VS_PLAIN_C = FOLDER / "tflm_vs_plain_c.json"
ESP32_TFLM = FOLDER / "esp32_tflm.json"
PER_TENSOR_COST = FOLDER / "per_tensor_cost.json"
DIGITS_PRUNING = FOLDER / "digits_pruning.json"
DIGITS_TFLM_VS_PLAIN_C = FOLDER / "digits_tflm_vs_plain_c.json"
ANOMALY_METHODS = FOLDER / "anomaly_methods.json"
FAN_LIVE_BUDGET = FOLDER / "fan_live_budget.json"
INT8_VS_FLOAT_BOARDS = FOLDER / "int8_vs_float_boards.json"
COMPRESSION_SEEDS = FOLDER / "compression_seeds.json"
DISTILLATION_SEEDS = FOLDER / "distillation_seeds.json"
MICROPYTHON_QEMU = FOLDER / "micropython_qemu.json"
SINE_INIT = FOLDER / "sine_init.json"

# The benchmark that writes each stored file, with --write.
WRITERS = {TFLM_VS_PLAIN_C.name: "tflm_vs_plain_c.py",
           ESP32_TFLM.name: "esp32_tflm_kernels.py",
           PER_TENSOR_COST.name: "per_tensor_cost.py",
           DIGITS_PRUNING.name: "digits_pruning.py",
           DIGITS_TFLM_VS_PLAIN_C.name: "digits_tflm_vs_plain_c.py",
           ANOMALY_METHODS.name: "anomaly_methods.py",
           FAN_LIVE_BUDGET.name: "fan_detector_report.py",
           INT8_VS_FLOAT_BOARDS.name: "int8_vs_float_boards.py",
           COMPRESSION_SEEDS.name: "compression_seeds.py",
           DISTILLATION_SEEDS.name: "distillation_seeds.py",
           MICROPYTHON_QEMU.name: "micropython_cost.py",
           SINE_INIT.name: "sine_init.py"}


def command(path: Path) -> str:
    """Return the command that writes the stored measurement ``path`` (its file name decides)."""
    name = Path(path).name
    if name not in WRITERS:
        raise ValueError(f"no benchmark is known to write {name}: one of "
                         f"{', '.join(sorted(WRITERS))}")
    return f".venv/bin/python benchmarks/{WRITERS[name]} --write"


# The command that writes TFLM_VS_PLAIN_C (stored in it as "command"; lesson 06 prints it).
TFLM_VS_PLAIN_C_COMMAND = command(TFLM_VS_PLAIN_C)


def spread_text(values, digits: int = 3, bound_digits: int | None = None) -> str:
    """Return 'mean [min, max]' of ``values``, the mean with ``digits`` decimals and the bounds
    with ``bound_digits`` (default: the same; 0 for counts), as the benchmarks print seeds."""
    values = np.asarray(list(values), dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("spread_text needs a non-empty list of numbers")
    b = digits if bound_digits is None else bound_digits
    return f"{values.mean():.{digits}f} [{values.min():.{b}f}, {values.max():.{b}f}]"


def load(path: Path = TFLM_VS_PLAIN_C, writer: str | None = None) -> dict:
    """Return a stored measurement; FileNotFoundError names the command that writes it
    (``writer``, else the one :data:`WRITERS` knows for the file's name)."""
    path = Path(path)
    if not path.is_file():
        if writer is None:
            writer = (command(path) if path.name in WRITERS
                      else "the benchmark that writes it, with --write")
        raise FileNotFoundError(f"{path} is missing: run {writer}")
    return json.loads(path.read_text(encoding="utf-8"))


def board_arena(record: dict | None = None) -> tuple[int, str]:
    """Return (smallest TFLM arena on the 32-bit board, how it was measured)."""
    arena = (record or load())["arena"]["m4"]
    return int(arena["size"]), str(arena["provenance"])


def sketch_arena(record: dict | None = None) -> tuple[int, str]:
    """Return (the TFLM sketch's tensor arena, how it was found): the smallest over the ESP32's
    library builds on a 32-bit board plus a stated margin."""
    arena = (record or load(ESP32_TFLM))["arena"]
    return int(arena["size"]), str(arena["note"])
