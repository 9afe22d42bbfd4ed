"""Measurements that need tools a lesson cannot run in under a minute, stored with the package.

``measured/tflm_vs_plain_c.json`` is written by ``benchmarks/tflm_vs_plain_c.py --write``
(TFLM built from source and the plain C, both on a simulated Cortex-M4F) and checked against a
fresh measurement by ``tests/test_tflm_sketch.py``: lesson 06 prints it, and the build writes
its 32-bit arena minimum into the TFLM sketch's ``model.h``.
"""

from __future__ import annotations

import json
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "measured"
TFLM_VS_PLAIN_C = FOLDER / "tflm_vs_plain_c.json"


def load(path: Path = TFLM_VS_PLAIN_C) -> dict:
    """Return a stored measurement; FileNotFoundError names the command that writes it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run benchmarks/tflm_vs_plain_c.py --write")
    return json.loads(path.read_text(encoding="utf-8"))


def board_arena(record: dict | None = None) -> tuple[int, str]:
    """Return (smallest TFLM arena on the 32-bit board, how it was measured)."""
    arena = (record or load())["arena"]["m4"]
    return int(arena["size"]), str(arena["provenance"])
