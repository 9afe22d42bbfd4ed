"""Run a .tflite under TensorFlow Lite Micro (its real C++ kernels, through the tflite-micro
Python package) and measure the exact tensor arena a model needs.

TFLM, not LiteRT, is the reference for the microcontroller code: its int8 results differ from
LiteRT's by one step on a few inputs, and the plain-C export must match what the board's
runtime computes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile

import numpy as np

from . import tflite_file

_PROBE = """
import sys
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
interpreter = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
interpreter.invoke()
"""


def interpreter(tflite: bytes, arena_size: int | None = None):
    """Return a TFLM interpreter for ``tflite`` (arena 64 KB unless given)."""
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(tflite_file.read(tflite).data, arena_size=arena_size or 64 * 1024)


def run(tflite: bytes, inputs) -> np.ndarray:
    """Return the model's outputs for each row of ``inputs`` (dtype of the model's tensors).

    Rows are fed one at a time, batch size 1, as on a board. int8 models take int8 codes.
    """
    interp = interpreter(tflite)
    details = interp.get_input_details(0)
    dtype, shape = details["dtype"], tuple(details["shape"])
    rows = np.asarray(inputs)
    if rows.ndim == 1:
        rows = rows.reshape(-1, int(np.prod(shape[1:])))
    if np.issubdtype(dtype, np.integer) and not np.issubdtype(rows.dtype, np.integer):
        raise TypeError(f"this model takes {np.dtype(dtype).name} codes; quantize the inputs "
                        f"first (got {rows.dtype})")
    outputs = []
    for row in rows:
        interp.set_input(row.astype(dtype).reshape(shape), 0)
        interp.invoke()
        outputs.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(outputs)


def _runs_with(tflite_path: str, arena_size: int) -> bool:
    # In a child process: an arena that is too small can crash the runtime outright.
    probe = subprocess.run([sys.executable, "-c", _PROBE, tflite_path, str(arena_size)],
                           capture_output=True, timeout=120, check=False)
    return probe.returncode == 0


@contextlib.contextmanager
def _model_file(tflite: bytes):
    data = tflite_file.read(tflite).data
    fd, path = tempfile.mkstemp(suffix=".tflite")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        yield path
    finally:
        os.unlink(path)


def runs_with_arena(tflite: bytes, size: int) -> bool:
    """Return True if TFLM can allocate and invoke ``tflite`` with a ``size``-byte arena."""
    with _model_file(tflite) as path:
        return _runs_with(path, size)


def arena_size(tflite: bytes, upper: int = 64 * 1024) -> int:
    """Return the smallest tensor arena (bytes) with which TFLM allocates and invokes ``tflite``.

    Found by bisection, each try in a fresh process; the answer is exact for this runtime build,
    no trial and error on the board.
    """
    with _model_file(tflite) as path:
        if not _runs_with(path, upper):
            raise ValueError(f"the model does not run even with a {upper}-byte arena")
        low, high = 0, upper  # fails at low (or low is 0), works at high
        while high - low > 1:
            mid = (low + high) // 2
            if _runs_with(path, mid):
                high = mid
            else:
                low = mid
        return high
