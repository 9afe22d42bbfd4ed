"""TensorFlow Lite Micro with Arm's CMSIS-NN kernels: TFLM as fast as it gets on a Cortex-M.

The course's other TFLM builds use the reference kernels: portable C++ loops written to be
obviously right, not fast. Comparing an optimized plain-C kernel with them would flatter the
plain C. Arm ships optimized int8 kernels for Cortex-M (CMSIS-NN, C with the DSP extension's
SIMD instructions where the core has them) and TFLM has glue kernels
(``tensorflow/lite/micro/kernels/cmsis_nn/*.cc``) that call them; a vendor building TFLM for a
Cortex-M4 (``OPTIMIZED_KERNEL_DIR=cmsis_nn``) gets those. This module builds that: the glue
kernels in place of the reference kernels of the same name, CMSIS-NN's integer sources beside
them, ``-DCMSIS_NN``. On the Cortex-M4F (``-mcpu=cortex-m4``: ``__ARM_FEATURE_DSP``) CMSIS-NN
takes its DSP paths; on this PC it falls back to its pure-C loops, which computes the same codes
and lets the outputs be checked without a simulator.

So a benchmark can set four implementations side by side on the same M4: TFLM reference
kernels against the plain-C reference loops, TFLM + CMSIS-NN against the optimized plain C.

Where the sources come from: one vendored tarball, ``tflm-cmsis-nn-2026-08.tar.xz`` (CMSIS-NN
and TFLM's ``kernels/cmsis_nn/`` glue), built against the esp-tflite-micro 1.4.0 tree beside it
(the same TFLM core, a week older than the glue). The caller names the folder holding both
(a :class:`Vendor`; ``CMSIS_NN_VENDOR_DIR=`` takes its place); the course's folder is in
``tooling/paths.py``. Only the kernels a model needs are swapped (:func:`swap_for`), and only
those the glue has; the others (RESHAPE, EXPAND_DIMS) stay reference.

Command line: ``python -m tinyml_helpers.deploy.cmsis_nn [host|m4] MODEL.tflite... [--vendor
DIR]`` runs each int8 model on 64 random inputs with the reference and the CMSIS-NN build and
prints the rows equal to the TFLM Python runtime.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import firmware, tflm, tflm_build

VENDOR_ENV = "CMSIS_NN_VENDOR_DIR"
TARBALL = "tflm-cmsis-nn-2026-08.tar.xz"  # CMSIS-NN/ and tflm-kernels-cmsis_nn/
TFLM_TARBALL = "esp-tflite-micro-1.4.0.tar.xz"  # the TFLM tree the glue is built into
GLUE_DIR = "tflm-kernels-cmsis_nn/tensorflow/lite/micro/kernels/cmsis_nn"
KERNEL_DIR = "tensorflow/lite/micro/kernels"
DEFINES = ("-DCMSIS_NN",)
BENCH_ARENA = 32768  # bytes: ample for the small CNNs the course checks (see run_codes)
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Vendor:
    """Where the vendored tarballs are, and the cache they are unpacked and built in
    (None: :func:`tflm_build.cache_dir`'s default)."""

    folder: Path | None
    cache: Path | None = None

    @property
    def path(self) -> Path | None:
        """Return the folder holding the tarballs: ``$CMSIS_NN_VENDOR_DIR`` when set, else
        ``folder``."""
        chosen = os.environ.get(VENDOR_ENV) or self.folder
        return Path(chosen).expanduser().resolve() if chosen else None

    def tarball(self, name: str = TARBALL) -> Path:
        """Return the path of the tarball ``name`` in :attr:`path` (it may be absent)."""
        if self.path is None:
            raise tflm_build.TflmUnavailable("no folder of vendored sources given and "
                                             f"{VENDOR_ENV} is not set")
        return self.path / name


def _vendor(vendor: Vendor | None) -> Vendor:
    if vendor is None:
        return Vendor(None)
    if not isinstance(vendor, Vendor):
        raise TypeError(f"vendor must be a cmsis_nn.Vendor, got {type(vendor).__name__}")
    return vendor


def unavailable(target: str = "host", vendor: Vendor | None = None) -> str | None:
    """Return one line saying why TFLM + CMSIS-NN from ``vendor`` cannot be built and run on
    ``target``, or None."""
    tflm_build.get_target(target)  # ValueError for an unknown board
    vendor = _vendor(vendor)
    if vendor.path is None:
        return f"vendored sources absent: no folder given and {VENDOR_ENV} is not set"
    missing = [str(vendor.tarball(name)) for name in (TARBALL, TFLM_TARBALL)
               if not vendor.tarball(name).is_file()]
    if missing:
        return f"vendored sources absent: {', '.join(missing)} (set {VENDOR_ENV}=)"
    tools = tflm_build.missing_tools(target)
    if tools:
        return f"{', '.join(tools)} not found"
    return None


def root(vendor: Vendor | None = None) -> Path:
    """Return the unpacked CMSIS-NN tarball (``CMSIS-NN/`` and ``tflm-kernels-cmsis_nn/``),
    unpacked once into the cache."""
    vendor = _vendor(vendor)
    tarball = vendor.tarball(TARBALL)
    if not tarball.is_file():
        raise tflm_build.TflmUnavailable(f"{tarball} is absent")
    return tflm_build.unpack(tarball, vendor.cache)


def tflm_source(vendor: Vendor | None = None) -> tflm_build.Source:
    """Return the TFLM tree the glue is built into: the vendored esp-tflite-micro 1.4.0
    (``$TFLM_SRC`` takes its place when set, as everywhere in :mod:`tflm_build`)."""
    vendor = _vendor(vendor)
    tarball = vendor.tarball(TFLM_TARBALL)
    if not tarball.is_file() and not os.environ.get(tflm_build.SOURCE_ENV):
        raise tflm_build.TflmUnavailable(f"{tarball} is absent")
    return tflm_build.source(tarball, cache=vendor.cache)


def glue_kernels(vendor: Vendor | None = None) -> tuple[str, ...]:
    """Return the TFLM kernels that have a CMSIS-NN version (``kernels/cmsis_nn/<name>.cc``),
    sorted."""
    folder = root(vendor) / GLUE_DIR
    names = tuple(sorted(p.stem for p in folder.glob("*.cc")))
    if not names:
        raise tflm_build.TflmUnavailable(f"no CMSIS-NN glue kernels in {folder}")
    return names


def c_sources(cmsis: Path) -> tuple[Path, ...]:
    """Return CMSIS-NN's integer C sources (``Source/**/*.c`` without the ``_f16`` / ``_f32``
    ones, which need CMSIS-NN's float API that TFLM's int8 kernels never call)."""
    files = tuple(sorted(p for p in (cmsis / "Source").rglob("*.c")
                         if not re.search(r"_f(16|32)", p.stem)))
    if not files:
        raise tflm_build.TflmUnavailable(f"no CMSIS-NN C sources under {cmsis / 'Source'}")
    return files


def _check_kernels(kernels) -> tuple[str, ...]:
    if isinstance(kernels, str) or not isinstance(kernels, (tuple, list)) or not kernels:
        raise TypeError("kernels must be a non-empty tuple of TFLM kernel names such as "
                        f"('conv', 'softmax') (see tflm_build.kernels_for), got {kernels!r}")
    bad = [k for k in kernels if not isinstance(k, str) or not _NAME.fullmatch(k)]
    if bad:
        raise ValueError(f"not TFLM kernel names: {bad!r} (lower-case file stems of "
                         f"{KERNEL_DIR}/, such as 'conv')")
    return tuple(sorted(set(kernels)))


def swap(kernels, vendor: Vendor | None = None, *,
         tree_file_names: bool = False) -> tflm_build.KernelSwap:
    """Return the :class:`~tflm_build.KernelSwap` that builds CMSIS-NN's versions of those of
    ``kernels`` (TFLM kernel names, e.g. from :func:`tflm_build.kernels_for`) that have one,
    with CMSIS-NN's integer sources; the others stay reference. The glue also defines int8-only
    registrations (``Register_CONV_2D_INT8()``...): the swap offers them, so a bench program
    built with it registers those and links only the int8 code (:func:`tflm_build.build_bench`,
    ``int8_only``).

    ``tree_file_names=True`` compiles the glue with ``-fmacro-prefix-map`` so that the file
    names its error messages carry (``__FILE__``) read ``tflite-micro/tensorflow/...``, as the
    TFLM tree's own files do (and as in a vendor's build inside a TFLM checkout), instead of
    the absolute path of the unpacked tarball: the program's flash then does not depend on
    where the build cache is. The default keeps the absolute paths (the libraries built so far).

    ValueError for a name that is neither a kernel the course builds (:data:`tflm_build.OPS`)
    nor a CMSIS-NN glue kernel, or when none of ``kernels`` has a CMSIS-NN version;
    :class:`tflm_build.TflmUnavailable` when the vendored sources are absent.
    """
    if not isinstance(tree_file_names, bool):
        raise TypeError(f"tree_file_names must be True or False, got {tree_file_names!r}")
    kernels = _check_kernels(kernels)
    base = root(vendor)
    glue = glue_kernels(vendor)
    known = {name for name, _ in tflm_build.OPS.values()} | set(glue)
    unknown = [k for k in kernels if k not in known]
    if unknown:
        raise ValueError(f"unknown TFLM kernel(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(known))}")
    chosen = [k for k in kernels if k in glue]
    if not chosen:
        raise ValueError(f"none of {', '.join(kernels)} has a CMSIS-NN kernel (it has: "
                         f"{', '.join(glue)})")
    cmsis = base / "CMSIS-NN"
    includes = ("-I", str(cmsis), "-I", str(cmsis / "Include"))
    names = (f"-fmacro-prefix-map={base / GLUE_DIR.split('/', 1)[0]}=tflite-micro",) \
        if tree_file_names else ()
    return tflm_build.KernelSwap(
        label=f"CMSIS-NN ({', '.join(chosen)})",
        replace=tuple((f"{KERNEL_DIR}/{k}.cc", base / GLUE_DIR / f"{k}.cc") for k in chosen),
        cxx_flags=(*DEFINES, *includes, *names), c_sources=c_sources(cmsis),
        c_flags=(*DEFINES, *includes), headers=(cmsis / "Include",),
        int8_registrations=tflm_build.int8_kinds(chosen), program_flags=DEFINES)


def swap_for(model, vendor: Vendor | None = None, *,
             tree_file_names: bool = False) -> tflm_build.KernelSwap:
    """Return :func:`swap` of the kernels the int8 model (.tflite bytes or a
    :class:`graph.Graph`) runs on."""
    return swap(tflm_build.kernels_for(tflm_build.model_ops(model)), vendor,
                tree_file_names=tree_file_names)


def _tflite_bytes(model) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    raise TypeError(f"model must be .tflite bytes, got {type(model).__name__}")


def run_codes(tflite: bytes, rows, build_dir, target: str = "host", cmsis: bool = True,
              vendor: Vendor | None = None) -> np.ndarray:
    """Return the int8 outputs of ``tflite`` for each input row under TFLM on ``target``,
    with CMSIS-NN's kernels (``cmsis=True``) or the reference ones, inside the firmware
    harness (arena :data:`BENCH_ARENA`)."""
    tflite = _tflite_bytes(tflite)
    src = tflm_source(vendor)
    kernels = swap_for(tflite, vendor) if cmsis else None
    program = tflm_build.build_bench(target, tflite, rows, Path(build_dir),
                                     arena_size=BENCH_ARENA, src=src, swap=kernels)
    return firmware.run(target, program).outputs


def random_rows(model, n: int = 64, seed: int = 0) -> np.ndarray:
    """Return ``n`` random int8 input rows of ``model`` plus the all -128 and all 127 rows
    (:func:`tflm_build.random_rows`)."""
    return tflm_build.random_rows(model, n, seed)


def main(argv=None) -> int:
    """Print, per model, the rows equal to the TFLM Python runtime with each kernel set."""
    parser = argparse.ArgumentParser(prog="python -m tinyml_helpers.deploy.cmsis_nn",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?", default="host", choices=list(tflm_build.TARGETS))
    parser.add_argument("models", nargs="+", type=Path, help="int8 .tflite files")
    parser.add_argument("--vendor", type=Path,
                        help=f"folder of the vendored tarballs (default: ${VENDOR_ENV})")
    parser.add_argument("--cache", type=Path, help="build cache (default: $TFLM_CACHE or "
                                                   "~/.cache/tinyml_helpers/tflm)")
    args = parser.parse_args(argv)
    vendor = Vendor(args.vendor, args.cache)
    reason = unavailable(args.target, vendor)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    print("| model | reference | CMSIS-NN |\n|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="cmsis-nn-") as tmp:
        for path in args.models:
            tflite = path.read_bytes()
            rows = random_rows(tflite)
            want = tflm.run(tflite, rows)
            cells = []
            for cmsis in (False, True):
                got = run_codes(tflite, rows, Path(tmp) / f"{path.stem}-{cmsis}", args.target,
                                cmsis, vendor)
                cells.append(f"{int(np.all(got == want, axis=1).sum())}/{len(rows)}")
            print(f"| {path.stem} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
