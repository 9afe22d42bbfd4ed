"""Any int8 model under TFLM inside the firmware harness (``deploy/harness/harness.c``), the
same harness the plain C runs in: ``tflm_harness/tflm_bench.cc`` sets TFLM up with a resolver
of exactly the model's operators, prints its set-up line, then the harness runs every input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import firmware, graph
from .kernels import OPS_HEADER, kernels_for, model_ops, resolver_header
from .library import (
    CXX_FLAGS,
    TFLM_HARNESS_DIR,
    KernelSwap,
    cached_object,
    cxx,
    headers_in,
    library,
    link,
    stage,
    support_objects,
    system_includes,
    tree_key,
)
from .sketch import model_files
from .source import Source, get_target, require

_TFLM_LINE = re.compile(r"TFLM SETUP (\d+) STACK (\d+) (\d+) ARENA (\d+) (\d+)")
PREFIX = "tflm_model"  # the harness calls tflm_model_invoke (tflm_harness/tflm_model.h)


@dataclass(frozen=True)
class BenchLine:
    """What tflm_bench.cc printed before the harness's BEGIN line."""

    setup_cost: int  # instructions per set-up on the M4 (0 on the host: no counter)
    setup_stack: int
    invoke_stack: int
    arena: int
    arena_used: int


def parse_bench_line(lines: list[str]) -> BenchLine | None:
    """Return the ``TFLM SETUP ...`` line's values, or None if it is not there."""
    for line in lines:
        if match := _TFLM_LINE.fullmatch(line.strip()):
            return BenchLine(*(int(v) for v in match.groups()))
    return None


def _rows(g: graph.Graph, inputs) -> np.ndarray:
    """Return ``inputs`` as (cases, input size) int8 codes of the model's input tensor."""
    n_in = g.tensors[g.inputs[0]].size
    rows = np.asarray(inputs)
    if rows.ndim == 1 and n_in == 1:
        rows = rows.reshape(-1, 1)
    if rows.ndim > 2:
        rows = rows.reshape(len(rows), -1)  # rows of the input's own shape, flattened
    if rows.ndim != 2 or rows.shape[1] != n_in or not len(rows):
        raise ValueError(f"inputs must be (cases, {n_in}) int8 codes, got shape {rows.shape}")
    if not np.issubdtype(rows.dtype, np.integer) or rows.min() < -128 or rows.max() > 127:
        raise ValueError("inputs must be int8 codes")
    return rows.astype(np.int8)


def random_rows(model, n: int = 64, seed: int = 0) -> np.ndarray:
    """Return ``n`` random int8 rows of the input of ``model`` (.tflite bytes or a
    :class:`graph.Graph`), in the input's own shape, plus the all -128 and all 127 rows."""
    g = graph.read(model)
    shape = tuple(g.tensors[g.inputs[0]].shape[1:])
    rng = np.random.default_rng(seed)
    rows = rng.integers(-128, 128, size=(n, *shape))
    return np.concatenate([rows, np.full((1, *shape), -128), np.full((1, *shape), 127)]
                          ).astype(np.int8)


def _int8_only(swap: KernelSwap | None, ops: tuple[str, ...], int8_only: bool | None
               ) -> tuple[str, ...]:
    """Return the operator kinds to register int8-only: those of ``ops`` the swap has an
    int8-only registration for, unless ``int8_only`` is False (None: whenever it has one)."""
    if int8_only is not None and not isinstance(int8_only, bool):
        raise TypeError(f"int8_only must be True, False or None, got {int8_only!r}")
    offered = tuple(k for k in ops if swap is not None and k in swap.int8_registrations)
    if int8_only and not offered:
        raise ValueError("int8_only=True needs a kernel swap with int8-only registrations for "
                         f"one of the model's operators ({', '.join(ops)}), such as "
                         "cmsis_nn.swap_for(model)")
    return () if int8_only is False else offered


def build_bench(target: str, tflite: bytes, inputs, build_dir, *, arena_size: int,
                arena_max: int | None = None, baseline: bool = False,
                src: Source | None = None, swap: KernelSwap | None = None,
                int8_only: bool | None = None) -> Path:
    """Return the firmware that runs the int8 model ``tflite`` under TFLM inside
    deploy/harness/harness.c on each row of int8 ``inputs`` (``baseline=True``: the same
    harness, no TFLM and no model). It registers exactly the model's operators
    (:func:`kernels.model_ops`) and links their kernels; the harness reads every output value.

    ``arena_size`` is the default arena (kTensorArenaSize), ``arena_max`` the static buffer
    a run may ask for (default ``arena_size``). The ELF and a .json the harness reader checks
    go to ``build_dir``. ``src`` and ``swap`` as for :func:`sketch.build_sketch`; the library
    holds the model's kernels and those the swap replaces (one swap can serve several models).

    ``int8_only``: register the operators the swap has int8-only kernels for with those
    (``AddConv2D(tflite::Register_CONV_2D_INT8())``...) and compile the program with the swap's
    ``program_flags``, so only their int8 code is linked (:func:`kernels.resolver_header`).
    None (the default) does so whenever the swap offers it (CMSIS-NN's does); False keeps the
    generic registrations; True insists.
    """
    src = require(target, src)
    spec = get_target(target)
    build = cxx(target)
    g = graph.read(tflite)
    if not g.is_int8:
        raise ValueError("the TFLM bench runs full-int8 models (int8 input and output)")
    ops = model_ops(g)
    int8_ops = _int8_only(swap, ops, int8_only)
    rows = _rows(g, inputs)
    n_out = g.tensors[g.outputs[0]].size
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    name = "tflm_baseline" if baseline else f"tflm_bench_{arena_max or arena_size}"
    files = {"harness_cases.h": firmware.cases_header("int8", rows, n_out,
                                                      None if baseline else PREFIX)}
    for harness_file in ("harness.c", "platform.h", f"platform_{target}.c"):
        files[harness_file] = (firmware.HARNESS_DIR / harness_file).read_text(encoding="utf-8")
    for own in ("tflm_model.h", "tflm_bench.cc"):
        files[own] = (TFLM_HARNESS_DIR / own).read_text(encoding="utf-8")
    files.update(model_files(tflite, arena_size))
    files[OPS_HEADER] = resolver_header(ops, int8_ops)
    staged = stage(src.cache, files)
    headers = headers_in(staged)
    salt = tree_key(src)
    c_flags = [f for f in spec.cflags if not f.startswith(("-Wl,", "-T", "--specs=rdimon"))]
    c_flags += ["-I", str(staged)]
    objects = [cached_object(src.cache, spec.compiler, c_flags, staged / "harness.c", headers,
                             salt),
               cached_object(src.cache, spec.compiler,
                             [*c_flags, "-Dplatform_init=platform_base_init"],
                             staged / f"platform_{target}.c", headers, salt)]
    cxx_flags = [*build.arch, *CXX_FLAGS, "-Wall", "-Wextra", "-Werror", "-I", str(staged),
                 *system_includes(src.root), f"-DTFLM_ARENA_MAX={int(arena_max or arena_size)}",
                 *build.compile, *(swap.program_flags if int8_ops else ())]
    if baseline:
        cxx_flags.append("-DTFLM_BENCH_EMPTY")
    objects.append(cached_object(src.cache, build.compiler, cxx_flags, staged / "tflm_bench.cc",
                                 headers, salt))
    if not baseline:
        objects.append(cached_object(src.cache, build.compiler, cxx_flags, staged / "model.cpp",
                                     headers, salt))
    objects += support_objects(target, src)[1:]  # platform_<target>.c is already in
    out = build_dir / f"{name}.{target}.elf"
    kernels = kernels_for(ops)
    if swap is not None:
        kernels = tuple(sorted({*kernels, *swap.kernels}))
    lib = library(target, kernels, src=src, swap=swap)
    link(target, objects, lib, out, printf_float=False)
    meta = {"target": target, "kind": "int8", "cases": len(rows), "inputs": rows.shape[1],
            "outputs": int(n_out), "prefix": PREFIX, "baseline": baseline}
    (build_dir / f"{name}.{target}.json").write_text(json.dumps(meta, indent=1))
    return out
