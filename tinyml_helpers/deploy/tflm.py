"""Run a .tflite under TensorFlow Lite Micro (its real C++ kernels, through the tflite-micro
Python package) and measure the exact tensor arena a model needs.

TFLM, not LiteRT, is the reference for the microcontroller code: its int8 results differ from
LiteRT's by one step on a few inputs, and the plain-C export must match what the board's
runtime computes.

TFLM trusts the flatbuffer it is given: a damaged model can make it read out of bounds or
crash the whole Python process. Every model is therefore checked by :func:`tflite_file.read`
and, the first time it is seen, allocated and invoked once in a child process; only a model
that survives that runs in this process. Failures are ValueErrors naming what went wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile

import numpy as np

from . import tflite_file
from .quant import real_array

DEFAULT_ARENA = 64 * 1024
MAX_ARENA = 1 << 30
PROBE_TIMEOUT_S = 120

_PROBE = """
import sys
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
interpreter = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
interpreter.invoke()
"""

_probed: dict[tuple[str, int], str | None] = {}  # (sha256, arena) -> None (ok) or the failure


def check_arena_size(value, name: str = "arena_size", allow_none: bool = False) -> int | None:
    """Return a tensor-arena size in bytes after checking it is an int in 1..MAX_ARENA."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int (bytes), got {type(value).__name__} {value!r}")
    if not 0 < value <= MAX_ARENA:
        raise ValueError(f"{name} must be in 1..{MAX_ARENA} bytes, got {value}")
    return int(value)


def _probe(path: str, arena_size: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROBE, path, str(arena_size)],
                          capture_output=True, text=True, errors="replace",
                          timeout=PROBE_TIMEOUT_S, check=False)


def _failure(done: subprocess.CompletedProcess) -> str | None:
    """Return why a probe failed (None if it ran)."""
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        return f"the TFLM runtime crashed on it (signal {-done.returncode})"
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return f"the TFLM runtime refused it: {lines[-1] if lines else f'exit {done.returncode}'}"


def _check_runs(checked: tflite_file.Tflite, arena_size: int) -> None:
    """Raise ValueError unless TFLM allocates and invokes the checked model in a child
    process."""
    key = (hashlib.sha256(checked.data).hexdigest(), arena_size)
    if key not in _probed:
        with _model_file(checked) as path:
            _probed[key] = _failure(_probe(path, arena_size))
    if _probed[key] is not None:
        raise ValueError(f"cannot run the .tflite with a {arena_size}-byte arena: "
                         f"{_probed[key]}")


def interpreter(tflite: bytes, arena_size: int | None = None, keep_all: bool = False):
    """Return a TFLM interpreter for ``tflite`` (arena 64 KB unless given).

    ``keep_all`` gives every tensor its own place in the arena, so the values an operator
    wrote in the middle of the model can be read after ``invoke`` (see :func:`run_tensor`).
    Raises ValueError if the model is corrupt or TFLM cannot allocate and run it.
    """
    checked = tflite_file.read(tflite)
    data = checked.data
    arena = check_arena_size(arena_size, "arena_size", allow_none=True) or DEFAULT_ARENA
    from tflite_micro.python.tflite_micro import runtime  # ImportError here, not in the probe

    _check_runs(checked, arena)

    config = (runtime.InterpreterConfig.kPreserveAllTensors if keep_all
              else runtime.InterpreterConfig.kAllocationRecording)
    try:
        return runtime.Interpreter.from_bytes(data, arena_size=arena, intrepreter_config=config)
    except RuntimeError as exc:
        raise ValueError(f"the TFLM runtime refused the .tflite: {exc}") from None


def _input_rows(inputs, dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``inputs`` as rows of the model's input shape and dtype, after checks."""
    rows = real_array("inputs", inputs)
    features = shape[1:]
    n_features = int(np.prod(features, dtype=np.int64))
    if rows.ndim == 1 and n_features == 1:
        rows = rows.reshape(-1, 1)
    if rows.ndim == 2 and rows.shape[1:] != features and rows.shape[1] == n_features:
        rows = rows.reshape((len(rows), *features))  # flat rows of a multi-axis input
    if rows.ndim < 2 or rows.shape[1:] != features:
        raise ValueError(f"inputs must have shape (n, {', '.join(map(str, features))}), got "
                         f"{rows.shape}")
    if len(rows) == 0:
        raise ValueError("inputs is empty: give at least one row")
    if np.issubdtype(dtype, np.integer):
        if not np.issubdtype(rows.dtype, np.integer):
            raise TypeError(f"this model takes {np.dtype(dtype).name} codes; quantize the "
                            f"inputs first (got {rows.dtype})")
        info = np.iinfo(dtype)
        if rows.min() < info.min or rows.max() > info.max:
            raise ValueError(f"input codes must lie in [{info.min}, {info.max}] for this "
                             f"{np.dtype(dtype).name} model, got {rows.min()}..{rows.max()}")
    elif not np.all(np.isfinite(rows)):
        raise ValueError("inputs contain NaN or inf")
    return rows.astype(dtype)


def run(tflite: bytes, inputs) -> np.ndarray:
    """Return the model's outputs for each row of ``inputs`` (dtype of the model's tensors).

    Rows are fed one at a time, batch size 1, as on a board. int8 models take int8 codes
    (any integer array whose values lie in -128..127); float models take finite floats.
    """
    interp = interpreter(tflite)
    return _each_row(interp, inputs, lambda: interp.get_output(0))


def _each_row(interp, inputs, read) -> np.ndarray:
    """Feed the rows of ``inputs`` to ``interp`` one at a time (batch size 1, as on a board),
    invoking it after each; return what ``read()`` gives after each invoke, one flat row each."""
    details = interp.get_input_details(0)
    dtype, shape = details["dtype"], tuple(int(n) for n in details["shape"])
    outputs = []
    for row in _input_rows(inputs, dtype, shape):
        interp.set_input(row.reshape(shape), 0)
        interp.invoke()
        outputs.append(np.array(read()).reshape(-1))
    return np.stack(outputs)


def run_tensor(tflite: bytes, inputs, tensor: int) -> np.ndarray:
    """Return the values TFLM computed for tensor number ``tensor`` (an index of the model's
    tensor table, e.g. an operator's output in :func:`graph.read`'s graph) for each row of
    ``inputs``: one row of its values per input row, flattened."""
    checked = tflite_file.read(tflite)
    n_tensors = len(checked.graph.tensors)
    if isinstance(tensor, bool) or not isinstance(tensor, (int, np.integer)):
        raise TypeError(f"tensor must be an int index, got {type(tensor).__name__} {tensor!r}")
    if not 0 <= tensor < n_tensors:
        raise ValueError(f"tensor must be an index of the model's {n_tensors} tensors "
                         f"(0..{n_tensors - 1}), got {tensor}")
    interp = interpreter(checked, DEFAULT_ARENA * 4, keep_all=True)
    return _each_row(interp, inputs, lambda: interp.GetTensor(int(tensor), 0)["tensor_data"])


def _runs_with(tflite_path: str, arena_size: int) -> bool:
    # In a child process: an arena that is too small can crash the runtime outright.
    return _probe(tflite_path, arena_size).returncode == 0


@contextlib.contextmanager
def _model_file(tflite):
    """Yield the path of a temporary copy of the model (bytes, checked here, or a value read
    before: a checked file or a graph)."""
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
    size = check_arena_size(size, "size")
    with _model_file(tflite) as path:
        return _runs_with(path, size)


def arena_size(tflite: bytes, upper: int = DEFAULT_ARENA) -> int:
    """Return the smallest tensor arena (bytes) with which TFLM allocates and invokes ``tflite``.

    Found by bisection, each try in a fresh process; the answer is exact for this runtime build,
    no trial and error on the board.
    """
    upper = check_arena_size(upper, "upper")
    with _model_file(tflite) as path:
        done = _probe(path, upper)
        if done.returncode != 0:
            raise ValueError(f"the model does not run even with a {upper}-byte arena: "
                             f"{_failure(done)}")
        low, high = 0, upper  # fails at low (or low is 0), works at high
        while high - low > 1:
            mid = (low + high) // 2
            if _runs_with(path, mid):
                high = mid
            else:
                low = mid
        return high
