"""TensorFlow Lite Micro as the ESP32's Arduino core builds it: with Espressif's ESP-NN kernels.

The arduino-esp32 core 3.x links esp-tflite-micro compiled with ``-DESP_NN``: its int8
CONV_2D, DEPTHWISE_CONV_2D, pooling, FULLY_CONNECTED and SOFTMAX (and ADD, MUL) run
``tensorflow/lite/micro/kernels/esp_nn/*.cc`` and esp-nn's C, not the reference kernels the
course's other TFLM builds use. Up to esp-tflite-micro 1.3.3 the FULLY_CONNECTED kernel ignores
per-channel quantization (the default of TF >= 2.16 for Dense layers) and reads a per-tensor
multiplier and shift that were never set; 1.3.4 fixed it. No Xtensa compiler is available
offline, so this module builds the same sources for this PC (or the Cortex-M4F): esp-nn's
portable kernels (``*_ansi.c`` / ``*_opt.c``; the S3/P4 assembly is left out) and a stand-in
``esp_timer.h`` (``esp_nn_host/``).

Two kinds of swap: :func:`swap` (FULLY_CONNECTED only, the sine model's one operator, with the
``_ansi`` kernel every chip's esp-nn maps it to) and :func:`swap_for` / :func:`swap_kernels`
(every kernel of a model that has an ESP-NN version). The latter defines
``CONFIG_NN_OPTIMIZED`` by default, as ESP-IDF's default menuconfig does: ``esp_nn.h`` then picks
esp-nn's generic optimizations (``esp_nn_generic_opt.h``: ``_opt`` convolutions and softmax,
``_ansi`` pooling and fully connected), what a classic ESP32 or an ESP32-C3 runs;
``optimized=False`` builds the ``_ansi`` kernels of menuconfig's "ANSI C" choice.

The caller says where the vendored tarballs are (a :class:`Vendor`: their folder and the build
cache; ``ESP_VENDOR_DIR=`` takes the place of the folder): esp-tflite-micro 1.3.3 with esp-nn
1.1.0 (what it resolves to) and 1.4.0 with esp-nn 1.1.2 (1.4.0's kernel needs
``esp_nn_fully_connected_per_ch_s8``). The course's folder is in ``tooling/paths.py``.

:func:`kernel_table` runs a set of int8 models over their inputs in each :class:`Build` and
counts the rows equal to the TFLM Python runtime (:data:`BUILDS`: FULLY_CONNECTED swapped or
not, for the sine models; :data:`CNN_BUILDS`: every kernel swapped or none). Command line:
``python -m tinyml_helpers.deploy.esp_nn [host|m4] MODEL.tflite... [--every-kernel]
[--vendor DIR]`` prints it.
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

from . import firmware, graph, tflm, tflm_build

HERE = Path(__file__).resolve().parent
STUB_DIR = HERE / "esp_nn_host"
VENDOR_ENV = "ESP_VENDOR_DIR"
# esp-tflite-micro version -> the esp-nn version it is paired with
PAIRS = {"1.3.3": "1.1.0", "1.4.0": "1.1.2"}
KERNEL_DIR = "tensorflow/lite/micro/kernels"
GLUE_DIR = f"{KERNEL_DIR}/esp_nn"  # ESP-NN's kernels, inside the esp-tflite-micro tree
# The kernels with an ESP-NN version in esp-tflite-micro 1.3.3 and 1.4.0 (GLUE_DIR/<name>.cc)
GLUE_KERNELS = ("add", "conv", "depthwise_conv", "fully_connected", "mul", "pooling", "softmax")
FULLY_CONNECTED = (f"{KERNEL_DIR}/fully_connected.cc", f"{GLUE_DIR}/fully_connected.cc")
# esp_nn.h: with CONFIG_NN_OPTIMIZED (menuconfig's default) and neither an S3 nor a P4 target,
# the generic optimizations of esp_nn_generic_opt.h; without it the _ansi kernels
OPTIMIZED_FLAGS = ("-DCONFIG_NN_OPTIMIZED=1",)
BENCH_ARENA = 8192  # bytes: ample for the sine models on any target (the minimum is < 2 KB)
CNN_ARENA = 32768  # bytes: ample for the small CNNs the course checks
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Vendor:
    """Where the vendored tarballs are, and the cache they are unpacked and built in
    (None: :func:`tflm_build.cache_dir`'s default)."""

    folder: Path | None
    cache: Path | None = None

    @property
    def path(self) -> Path | None:
        """Return the folder holding the tarballs: ``$ESP_VENDOR_DIR`` when set, else
        ``folder``."""
        chosen = os.environ.get(VENDOR_ENV) or self.folder
        return Path(chosen).expanduser().resolve() if chosen else None

    def tarball(self, name: str, version: str) -> Path:
        """Return the path of ``<name>-<version>.tar.xz`` in :attr:`path`."""
        if self.path is None:
            raise tflm_build.TflmUnavailable("no folder of vendored sources given and "
                                             f"{VENDOR_ENV} is not set")
        return self.path / f"{name}-{version}.tar.xz"


def _vendor(vendor: Vendor | None) -> Vendor:
    if vendor is None:
        return Vendor(None)
    if not isinstance(vendor, Vendor):
        raise TypeError(f"vendor must be an esp_nn.Vendor, got {type(vendor).__name__}")
    return vendor


def _check_version(version) -> str:
    if version not in PAIRS:
        raise ValueError(f"unknown esp-tflite-micro version {version!r}; vendored: "
                         f"{', '.join(PAIRS)}")
    return version


def unavailable(target: str = "host", vendor: Vendor | None = None) -> str | None:
    """Return one line saying why the ESP-NN builds from ``vendor`` cannot run on ``target``,
    or None."""
    vendor = _vendor(vendor)
    if vendor.path is None:
        return f"vendored sources absent: no folder given and {VENDOR_ENV} is not set"
    missing = [str(path) for version, nn in PAIRS.items()
               for path in (vendor.tarball("esp-tflite-micro", version),
                            vendor.tarball("esp-nn", nn))
               if not path.is_file()]
    if missing:
        return f"vendored sources absent: {', '.join(missing)} (set {VENDOR_ENV}=)"
    tools = tflm_build.missing_tools(target)
    if tools:
        return f"{', '.join(tools)} not found"
    return None


def tflm_source(version: str, vendor: Vendor | None = None) -> tflm_build.Source:
    """Return the vendored esp-tflite-micro ``version`` as a TFLM source tree (unpacked once)."""
    version = _check_version(version)
    vendor = _vendor(vendor)
    tarball = vendor.tarball("esp-tflite-micro", version)
    if not tarball.is_file():
        raise tflm_build.TflmUnavailable(f"{tarball} is absent")
    root = tflm_build.unpack(tarball, vendor.cache)
    return tflm_build.Source(root, f"esp-tflite-micro {version}", str(tarball),
                             tflm_build.cache_dir(vendor.cache))


def esp_nn_root(version: str, vendor: Vendor | None = None) -> Path:
    """Return the unpacked esp-nn ``version``."""
    vendor = _vendor(vendor)
    tarball = vendor.tarball("esp-nn", version)
    if not tarball.is_file():
        raise tflm_build.TflmUnavailable(f"{tarball} is absent")
    return tflm_build.unpack(tarball, vendor.cache)


def portable_sources(root: Path) -> tuple[Path, ...]:
    """Return esp-nn's portable C files: the reference ``_ansi`` kernels and the generic
    ``_opt`` ones (the chip-specific ``_esp32s3`` / ``_esp32p4`` files are left out)."""
    files = sorted(p for p in (root / "src").rglob("*.c")
                   if p.stem.endswith(("_ansi", "_opt")))
    if not files:
        raise tflm_build.TflmUnavailable(f"no esp-nn C sources under {root / 'src'}")
    return tuple(files)


def _includes(root: Path) -> tuple[str, ...]:
    return ("-I", str(root / "include"), "-I", str(root / "src" / "common"))


def swap(esp_nn_version: str, vendor: Vendor | None = None) -> tflm_build.KernelSwap:
    """Return the :class:`~tflm_build.KernelSwap` that builds ESP-NN's FULLY_CONNECTED with
    esp-nn ``esp_nn_version``'s portable kernels (``_ansi``: what every chip's esp-nn maps the
    fully connected layer to, with or without its optimizations). The sine builds use it."""
    root = esp_nn_root(esp_nn_version, vendor)
    includes = _includes(root)
    return tflm_build.KernelSwap(
        label=f"ESP-NN (esp-nn {esp_nn_version})", replace=(FULLY_CONNECTED,),
        cxx_flags=("-DESP_NN=1", *includes, "-I", str(STUB_DIR)),
        c_sources=portable_sources(root), c_flags=includes,
        headers=(root / "include", root / "src", STUB_DIR))


def _check_kernels(kernels) -> tuple[str, ...]:
    if isinstance(kernels, str) or not isinstance(kernels, (tuple, list)) or not kernels:
        raise TypeError("kernels must be a non-empty tuple of TFLM kernel names such as "
                        f"('conv', 'softmax') (see tflm_build.kernels_for), got {kernels!r}")
    bad = [k for k in kernels if not isinstance(k, str) or not _NAME.fullmatch(k)]
    if bad:
        raise ValueError(f"not TFLM kernel names: {bad!r} (lower-case file stems of "
                         f"{KERNEL_DIR}/, such as 'conv')")
    known = {name for name, _ in tflm_build.OPS.values()} | set(GLUE_KERNELS)
    unknown = sorted(set(kernels) - known)
    if unknown:
        raise ValueError(f"unknown TFLM kernel(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(known))}")
    return tuple(sorted(set(kernels)))


def swap_kernels(kernels, esp_nn_version: str, vendor: Vendor | None = None, *,
                 optimized: bool = True) -> tflm_build.KernelSwap:
    """Return the :class:`~tflm_build.KernelSwap` that builds ESP-NN's version of each of
    ``kernels`` (TFLM kernel names, e.g. from :func:`tflm_build.kernels_for`) that has one
    (:data:`GLUE_KERNELS`), with esp-nn ``esp_nn_version``'s portable C; the others (RESHAPE,
    EXPAND_DIMS) stay reference.

    ``optimized`` (default) compiles the kernels with ``CONFIG_NN_OPTIMIZED``, so they call
    esp-nn's generic optimizations as on a classic ESP32 (``_opt`` convolutions and softmax
    with their scratch buffers); False calls the ``_ansi`` kernels throughout.
    ValueError for unknown names or when none has an ESP-NN version.
    """
    kernels = _check_kernels(kernels)
    if not isinstance(optimized, bool):
        raise TypeError(f"optimized must be True or False, got {optimized!r}")
    chosen = [k for k in kernels if k in GLUE_KERNELS]
    if not chosen:
        raise ValueError(f"none of {', '.join(kernels)} has an ESP-NN kernel (they are: "
                         f"{', '.join(GLUE_KERNELS)})")
    root = esp_nn_root(esp_nn_version, vendor)
    includes = _includes(root)
    variant = "generic optimizations" if optimized else "ANSI C"
    return tflm_build.KernelSwap(
        label=f"ESP-NN {', '.join(chosen)} (esp-nn {esp_nn_version}, {variant})",
        replace=tuple((f"{KERNEL_DIR}/{k}.cc", f"{GLUE_DIR}/{k}.cc") for k in chosen),
        cxx_flags=("-DESP_NN=1", *(OPTIMIZED_FLAGS if optimized else ()), *includes,
                   "-I", str(STUB_DIR)),
        c_sources=portable_sources(root), c_flags=includes,
        headers=(root / "include", root / "src", STUB_DIR))


def _model_kernels(models) -> tuple[str, ...]:
    """Return the TFLM kernels the int8 models (.tflite bytes or graphs) run on, together."""
    if isinstance(models, (bytes, bytearray, memoryview, graph.Graph)):
        models = (models,)
    models = tuple(models)
    if not models:
        raise ValueError("name at least one model")
    return tuple(sorted({k for m in models
                         for k in tflm_build.kernels_for(tflm_build.model_ops(m))}))


def swap_for(model, esp_nn_version: str, vendor: Vendor | None = None, *,
             optimized: bool = True) -> tflm_build.KernelSwap:
    """Return :func:`swap_kernels` of every kernel the int8 ``model`` (.tflite bytes or a
    :class:`graph.Graph`, or several of them: the kernels of all) runs on that has an ESP-NN
    version."""
    return swap_kernels(_model_kernels(model), esp_nn_version, vendor, optimized=optimized)


@dataclass(frozen=True)
class Build:
    """One way the ESP32's TFLM may be built: a library version and its kernels: all reference
    (``esp_nn=False``), ESP-NN's FULLY_CONNECTED only, or with ``every_kernel`` ESP-NN's
    version of every kernel the models run (``optimized``: esp-nn's generic optimizations, as
    on a classic ESP32; else its ANSI C)."""

    tflm: str  # esp-tflite-micro version
    esp_nn: bool  # ESP-NN's kernels (True) or TFLM's reference kernels
    every_kernel: bool = False  # every kernel with an ESP-NN version, not FULLY_CONNECTED only
    optimized: bool = True  # with every_kernel: CONFIG_NN_OPTIMIZED (see swap_kernels)

    def __post_init__(self):
        _check_version(self.tflm)
        if self.every_kernel and not self.esp_nn:
            raise ValueError("every_kernel needs esp_nn=True")

    @property
    def kernel(self) -> str:
        """Return the swapped kernels' description."""
        if not self.esp_nn:
            return "reference"
        if not self.every_kernel:
            return f"ESP-NN (esp-nn {PAIRS[self.tflm]})"
        variant = "" if self.optimized else ", ANSI C"
        return f"ESP-NN, every kernel (esp-nn {PAIRS[self.tflm]}{variant})"

    @property
    def slug(self) -> str:
        """Return a short name for build folders, e.g. ``1.4.0-esp_nn_all``."""
        kind = "ref" if not self.esp_nn else "esp_nn" if not self.every_kernel else \
            "esp_nn_all" if self.optimized else "esp_nn_all_ansi"
        return f"{self.tflm}-{kind}"

    def parts(self, vendor: Vendor | None = None, models=()) -> tuple[
            tflm_build.Source, tflm_build.KernelSwap | None]:
        """Return the source tree and kernel swap to build with, from ``vendor``; an
        ``every_kernel`` build swaps the kernels of ``models`` (one model or several)."""
        src = tflm_source(self.tflm, vendor)
        if not self.esp_nn:
            return src, None
        if not self.every_kernel:
            return src, swap(PAIRS[self.tflm], vendor)
        if isinstance(models, (tuple, list)) and not models:
            raise ValueError("an every-kernel build needs the models it will run")
        return src, swap_for(models, PAIRS[self.tflm], vendor, optimized=self.optimized)


BUILDS = tuple(Build(version, nn) for version in PAIRS for nn in (False, True))
CNN_BUILDS = tuple(Build(version, nn, nn) for version in PAIRS for nn in (False, True))


def run_codes(build: Build, tflite: bytes, codes, build_dir, target: str = "host",
              vendor: Vendor | None = None, arena_size: int = BENCH_ARENA) -> np.ndarray:
    """Return the int8 outputs of ``tflite`` for each row of ``codes`` under ``build`` on
    ``target``, run inside the firmware harness with an ``arena_size``-byte arena."""
    src, kernels = build.parts(vendor, (tflite,))
    program = tflm_build.build_bench(target, tflite, codes, Path(build_dir),
                                     arena_size=arena_size, src=src, swap=kernels)
    return firmware.run(target, program).outputs


def sketch_run(folder, build: Build, target: str = "host", build_dir=None,
               loops: int = 2, *, tflite: bytes, arena_size: int,
               vendor: Vendor | None = None) -> tflm_build.SketchRun:
    """Return what the TFLM sketch in ``folder`` prints when built with ``build`` and the model
    ``tflite`` with ``arena_size`` (its self-test line included) on ``target``."""
    src, kernels = build.parts(vendor, (tflite,))
    program = tflm_build.build_sketch(folder, target, build_dir, tflite=tflite,
                                      arena_size=arena_size, src=src, swap=kernels, loops=loops)
    return tflm_build.run_sketch(program, target)


@dataclass(frozen=True)
class Row:
    """One build's results for each model: rows whose outputs equal the TFLM runtime, of how
    many."""

    build: Build
    equal: dict[str, int]  # model name -> input rows whose outputs equal the TFLM Python runtime
    distinct: dict[str, int]  # model name -> number of different output rows it printed
    cases: dict[str, int]  # model name -> input rows run


def default_inputs(tflite, n: int = 64, seed: int = 0) -> np.ndarray:
    """Return the input rows :func:`kernel_table` runs by default: all 256 codes for a
    one-input model, else ``n`` random rows plus the all -128 and all 127 rows
    (:func:`tflm_build.random_rows`)."""
    g = graph.read(tflite)
    if g.tensors[g.inputs[0]].size == 1:
        return np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
    return tflm_build.random_rows(g, n, seed)


def _wanted(models: dict[str, bytes], inputs: dict | None) -> dict[str, tuple]:
    """Return {name: (input rows, TFLM runtime outputs)} of each model."""
    if not models:
        raise ValueError("models must name at least one .tflite")
    inputs = dict(inputs or {})
    unknown = sorted(set(inputs) - set(models))
    if unknown:
        raise ValueError(f"inputs for unknown model(s) {', '.join(unknown)}")
    wanted = {}
    for name, tflite in models.items():
        rows = inputs[name] if name in inputs else default_inputs(tflite)
        want = np.asarray(tflm.run(tflite, rows))
        wanted[name] = (rows, want.reshape(len(want), -1))
    return wanted


def _compare(models: dict[str, bytes], wanted: dict, src, kernels, folder: Path, target: str,
             arena_size: int) -> tuple[dict, dict, dict]:
    """Run each model under ``src`` + ``kernels``; return (equal, distinct, cases) per model."""
    equal, distinct, cases = {}, {}, {}
    for name, tflite in models.items():
        codes, want = wanted[name]
        program = tflm_build.build_bench(target, tflite, codes, folder / name,
                                         arena_size=arena_size, src=src, swap=kernels)
        got = firmware.run(target, program).outputs.reshape(len(want), -1)
        equal[name] = int(np.all(got == want, axis=1).sum())
        distinct[name] = len(np.unique(got, axis=0))
        cases[name] = len(want)
    return equal, distinct, cases


def kernel_table(models: dict[str, bytes], build_dir, target: str = "host",
                 builds=BUILDS, vendor: Vendor | None = None, inputs: dict | None = None,
                 arena_size: int = BENCH_ARENA) -> list[Row]:
    """Return one :class:`Row` per build: each int8 model run over its input rows inside the
    firmware harness on ``target``, compared row by row with the TFLM Python runtime
    (:func:`tflm.run`).

    ``inputs`` maps a model's name to its rows (int8 codes, one row per input); the others get
    :func:`default_inputs` (every code of a one-input model). An ``every_kernel`` build swaps
    the kernels of all the models at once (one library per build and target). ``arena_size``
    is the bench's arena (:data:`CNN_ARENA` suits the CNNs)."""
    wanted = _wanted(models, inputs)
    rows = []
    for build in builds:
        src, kernels = build.parts(vendor, tuple(models.values()))
        rows.append(Row(build, *_compare(models, wanted, src, kernels,
                                         Path(build_dir) / build.slug, target, arena_size)))
    return rows


def kernel_by_kernel(models: dict[str, bytes], tflm_version: str, build_dir,
                     target: str = "host", vendor: Vendor | None = None,
                     inputs: dict | None = None, arena_size: int = CNN_ARENA,
                     optimized: bool = True) -> dict[str, dict[str, int]]:
    """Return {kernel: {model: rows equal to the TFLM runtime}} with ESP-NN's version of that
    one kernel and the reference version of every other, for each kernel of the models that
    has an ESP-NN version, in esp-tflite-micro ``tflm_version``: which operator an
    every-kernel build gets wrong. Inputs and arena as for :func:`kernel_table`."""
    _check_version(tflm_version)
    wanted = _wanted(models, inputs)
    src = tflm_source(tflm_version, vendor)
    result = {}
    for kernel in [k for k in _model_kernels(tuple(models.values())) if k in GLUE_KERNELS]:
        chosen = swap_kernels((kernel,), PAIRS[tflm_version], vendor, optimized=optimized)
        folder = Path(build_dir) / f"{tflm_version}-esp_nn_{kernel}"
        result[kernel] = _compare(models, wanted, src, chosen, folder, target, arena_size)[0]
    return result


def table_record(rows: list[Row], target: str) -> dict:
    """Return the rows as plain data (what the benchmark stores for lesson 06). ``cases`` is
    one number when every model ran as many rows, else one per model; an every-kernel build's
    row says so (``"every_kernel": true``)."""
    counts = {n for r in rows for n in r.cases.values()}
    cases = counts.pop() if len(counts) == 1 else dict(rows[0].cases)
    out = []
    for r in rows:
        row = {"tflm": r.build.tflm, "kernel": r.build.kernel, "equal": r.equal,
               "distinct": r.distinct}
        if r.build.every_kernel:
            row["every_kernel"] = True
        out.append(row)
    return {"target": tflm_build.get_target(target).cxx.title, "cases": cases, "rows": out}


def table_markdown(record: dict) -> str:
    """Return a :func:`table_record` as a Markdown table: rows equal to the TFLM runtime, of
    all rows run, per model."""
    names = list(record["rows"][0]["equal"])
    cases = record["cases"]
    every = any(row.get("every_kernel") for row in record["rows"])
    head = "kernels" if every else "FULLY_CONNECTED kernel"
    lines = [f"| esp-tflite-micro | {head} | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for row in record["rows"]:
        cells = []
        for name in names:
            n_cases = cases[name] if isinstance(cases, dict) else cases
            cell = f"{row['equal'][name]}/{n_cases}"
            if row["equal"][name] != n_cases:
                n = row["distinct"][name]
                cell = f"**{cell}** " + ("(one output for every input)" if n == 1
                                         else f"({n} distinct outputs)")
            cells.append(cell)
        lines.append(f"| {row['tflm']} | {row['kernel']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table(models: dict[str, bytes], target: str = "host", builds=CNN_BUILDS,
                vendor: Vendor | None = None, inputs: dict | None = None,
                build_dir=None, arena_size: int = CNN_ARENA, file=None) -> dict:
    """Print the Markdown table of :func:`kernel_table` (models x builds: rows equal to the
    TFLM runtime) for ``target`` to ``file`` (default stdout) and return its
    :func:`table_record`. Builds go to ``build_dir`` (default: a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="esp-nn-") as tmp:
        rows = kernel_table(models, Path(build_dir) if build_dir else Path(tmp), target,
                            builds, vendor, inputs, arena_size)
    record = table_record(rows, target)
    print(f"{record['target']}: rows equal to the TFLM runtime", file=file)
    print(table_markdown(record), file=file)
    return record


ARENA_MARGIN = 0.25  # kept above the measured minimum: see sketch_arena


@dataclass(frozen=True)
class ArenaPlan:
    """The TFLM sketch's tensor arena: the measured minima and the margin kept above them."""

    minima: dict[str, int]  # "<tflm> <kernel>" -> smallest arena on the 32-bit target
    used: dict[str, int]  # the same -> arena_used_bytes() with that arena
    size: int  # what the sketch declares
    note: str  # how it was found, for model.h and the READMEs


def arena_plan(tflite: bytes, build_dir, target: str = "m4", builds=BUILDS,
               vendor: Vendor | None = None) -> ArenaPlan:
    """Return the sketch's arena: the largest minimum over ``builds`` on the 32-bit ``target``
    plus :data:`ARENA_MARGIN`, rounded up to 16 bytes. The margin is for what was not measured
    here: other esp-tflite-micro versions and the ESP32's own compiler."""
    minima, used = {}, {}
    for build in builds:
        src, kernels = build.parts(vendor, (tflite,))
        name = f"{build.tflm} {build.kernel}"
        folder = Path(build_dir) / build.slug
        arena = tflm_build.arena_for_tflite(target, tflite, folder, src, kernels)
        minima[name], used[name] = arena.size, arena.used
    top = max(minima.values())
    size = -(-int(top * (1 + ARENA_MARGIN)) // 16) * 16
    versions = " and ".join(PAIRS)
    note = (f"the smallest that works, {top:,} B, measured on a Cortex-M4F (QEMU) with "
            f"esp-tflite-micro {versions}, reference and ESP-NN kernels, plus "
            f"{ARENA_MARGIN:.0%} for library versions and compilers not measured here")
    return ArenaPlan(minima, used, size, note)


def main(argv=None) -> int:
    """Print the kernel table for the int8 models named on the command line."""
    parser = argparse.ArgumentParser(prog="python -m tinyml_helpers.deploy.esp_nn",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?", default="host", choices=list(tflm_build.TARGETS))
    parser.add_argument("models", nargs="+", type=Path, help="int8 .tflite files")
    parser.add_argument("--every-kernel", action="store_true",
                        help="swap every kernel with an ESP-NN version (default: "
                             "FULLY_CONNECTED only, the sine builds)")
    parser.add_argument("--ansi", action="store_true",
                        help="with --every-kernel: esp-nn's ANSI C kernels, not its generic "
                             "optimizations")
    parser.add_argument("--vendor", type=Path,
                        help=f"folder of the vendored tarballs (default: ${VENDOR_ENV})")
    parser.add_argument("--cache", type=Path, help="build cache (default: $TFLM_CACHE or "
                                                   "~/.cache/tinyml_helpers/tflm)")
    args = parser.parse_args(argv)
    if args.ansi and not args.every_kernel:
        parser.error("--ansi needs --every-kernel")
    vendor = Vendor(args.vendor, args.cache)
    reason = unavailable(args.target, vendor)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    models = {p.stem: p.read_bytes() for p in args.models}
    builds = BUILDS if not args.every_kernel else tuple(
        Build(b.tflm, b.esp_nn, b.esp_nn, not args.ansi) for b in CNN_BUILDS)
    arena = CNN_ARENA if args.every_kernel else BENCH_ARENA
    print_table(models, args.target, builds, vendor, arena_size=arena)
    return 0


if __name__ == "__main__":
    sys.exit(main())
