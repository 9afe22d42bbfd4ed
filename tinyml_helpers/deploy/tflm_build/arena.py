"""The smallest tensor arena a model runs with under TFLM on one board, measured: bisected with
one bench firmware that takes the arena size on its command line, each try in its own process
with a timeout (too small an arena can crash or hang instead of failing cleanly), and
optionally confirmed with a sketch at that size and one byte below."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import graph
from .bench import BenchLine, build_bench, parse_bench_line
from .library import KernelSwap
from .sketch import (
    DEFAULT_LOOPS,
    DEFAULT_TIMEOUT_S,
    build_sketch,
    check_sketch,
    execute,
    run_sketch,
)
from .source import Source, TflmBuildError, require

_PROVENANCE = {"m4": "Cortex-M4F (QEMU)", "host": "this 64-bit PC"}


@dataclass(frozen=True)
class Arena:
    """The smallest tensor arena a model runs with on one target."""

    size: int  # bytes: works at size, fails (cleanly or not) at size - 1
    used: int  # what arena_used_bytes() reports with that arena
    target: str
    provenance: str  # e.g. "measured on Cortex-M4F (QEMU) with esp-tflite-micro 1.4.0"
    sketch_confirmed: bool  # the sketch itself ran at size and failed at size - 1


def probe_arena(target: str, program: Path, size: int,
                timeout_s: float = DEFAULT_TIMEOUT_S) -> BenchLine | None:
    """Run a bench firmware with a ``size``-byte arena in its own process; return what it
    printed if AllocateTensors and Invoke worked, None if it failed, crashed or hung."""
    code, lines, _, _ = execute(target, program, timeout_s, (str(int(size)),))
    line = parse_bench_line(lines)
    return line if code == 0 and line is not None and line.arena == size else None


def _one_input(tflite: bytes) -> np.ndarray:
    """Return one all-zero input row of the model (the arena does not depend on the values)."""
    g = graph.read(tflite)
    return np.zeros((1, g.tensors[g.inputs[0]].size), np.int8)


def arena_minimum(target: str, tflite: bytes, sketch=None, *, upper: int = 16384,
                  build_dir=None, timeout_s: float = 30.0, steps: int = DEFAULT_LOOPS,
                  src: Source | None = None, swap: KernelSwap | None = None) -> Arena:
    """Return the smallest arena with which the int8 model ``tflite`` sets up (GetModel,
    resolver, interpreter, AllocateTensors) and runs Invoke on ``target``.

    With ``sketch`` (a hello-world TFLM sketch folder) the result is confirmed by building the
    sketch with the model at that size (it must print every row right, ``steps`` x values per
    period) and one byte below (it must not). ``src`` and ``swap`` choose the TFLM tree and
    kernels, as for :func:`sketch.build_sketch`.
    """
    src = require(target, src)
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="tflm-arena-"))
    program = build_bench(target, tflite, _one_input(tflite), build_dir, arena_size=upper,
                          arena_max=upper, src=src, swap=swap)
    top = probe_arena(target, program, upper, timeout_s)
    if top is None:
        raise TflmBuildError(f"the model does not run on {target} even with a {upper}-byte "
                             "arena")
    low, high, best = 0, upper, top  # fails at low (or low is 0), works at high
    while high - low > 1:
        mid = (low + high) // 2
        line = probe_arena(target, program, mid, timeout_s)
        if line is not None:
            high, best = mid, line
        else:
            low = mid
    confirmed = False
    if sketch is not None:
        try:
            check_sketch(sketch, target, build_dir / "at", tflite=tflite, arena_size=high,
                         steps=steps, loops=2, timeout_s=timeout_s, src=src, swap=swap)
        except TflmBuildError as exc:
            raise TflmBuildError(f"the bench ran with a {high}-byte arena but the sketch did "
                                 f"not: {exc}") from None
        below = run_sketch(build_sketch(sketch, target, build_dir / "below", tflite=tflite,
                                        arena_size=high - 1, loops=2, src=src, swap=swap),
                           target, timeout_s)
        if below.ok and len(below.rows) == 2:
            raise TflmBuildError(f"the sketch also runs with {high - 1} bytes: the bench and "
                                 "the sketch disagree")
        confirmed = True
    provenance = f"measured on {_PROVENANCE[target]} with {src.label}" + (
        f" and {swap.label}" if swap else "")
    return Arena(high, best.arena_used, target, provenance, confirmed)


def arena_for_tflite(target: str, tflite: bytes, build_dir, src: Source | None = None,
                     swap: KernelSwap | None = None) -> Arena:
    """:func:`arena_minimum` of the model alone (the bench, no sketch), built in
    ``build_dir``."""
    return arena_minimum(target, tflite, build_dir=Path(build_dir), src=src, swap=swap)


def board_arena_size(tflite: bytes, sketch=None, src: Source | None = None) -> tuple[int, str]:
    """Return (bytes, provenance) of the smallest arena of ``tflite`` on a 32-bit Cortex-M4F:
    the number for model.h's kTensorArenaSize on a 32-bit board (confirmed with ``sketch``
    when given)."""
    with tempfile.TemporaryDirectory(prefix="tflm-arena-") as tmp:
        arena = arena_minimum("m4", tflite, sketch, build_dir=Path(tmp), src=src)
    return arena.size, arena.provenance
