"""TensorFlow Lite Micro as the ESP32's Arduino core builds it: with Espressif's ESP-NN kernels.

The arduino-esp32 core 3.x links esp-tflite-micro compiled with ``-DESP_NN``, so an int8
FULLY_CONNECTED runs ``kernels/esp_nn/fully_connected.cc`` and esp-nn's C, not the reference
kernel the course's other TFLM builds use. Up to esp-tflite-micro 1.3.3 that kernel ignores
per-channel quantization (the default of TF >= 2.16 for Dense layers) and reads a per-tensor
multiplier and shift that were never set; 1.3.4 fixed it. No Xtensa compiler is available
offline, so this module builds the same sources for this PC (or the Cortex-M4F): esp-nn's
portable kernels (``*_ansi.c`` / ``*_opt.c``, what a classic ESP32 without the S3/P4 assembly
runs) and a stand-in ``esp_timer.h`` (``esp_nn_host/``).

The caller says where the vendored tarballs are (a :class:`Vendor`: their folder and the build
cache; ``ESP_VENDOR_DIR=`` takes the place of the folder): esp-tflite-micro 1.3.3 with esp-nn
1.1.0 (what it resolves to) and 1.4.0 with esp-nn 1.1.2 (1.4.0's kernel needs
``esp_nn_fully_connected_per_ch_s8``). The course's folder is in ``tooling/paths.py``.

:func:`kernel_table` runs a set of int8 models over every input code in each build and counts
the outputs equal to the TFLM Python runtime. Command line:
``python -m tinyml_helpers.deploy.esp_nn [host|m4] MODEL.tflite... [--vendor DIR]`` prints it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import dense, firmware, tflm, tflm_build

HERE = Path(__file__).resolve().parent
STUB_DIR = HERE / "esp_nn_host"
VENDOR_ENV = "ESP_VENDOR_DIR"
# esp-tflite-micro version -> the esp-nn version it is paired with
PAIRS = {"1.3.3": "1.1.0", "1.4.0": "1.1.2"}
FULLY_CONNECTED = ("tensorflow/lite/micro/kernels/fully_connected.cc",
                   "tensorflow/lite/micro/kernels/esp_nn/fully_connected.cc")
BENCH_ARENA = 8192  # bytes: ample for the sine models on any target (the minimum is < 2 KB)


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


def swap(esp_nn_version: str, vendor: Vendor | None = None) -> tflm_build.KernelSwap:
    """Return the :class:`~tflm_build.KernelSwap` that builds ESP-NN's FULLY_CONNECTED with
    esp-nn ``esp_nn_version``'s portable kernels."""
    root = esp_nn_root(esp_nn_version, vendor)
    includes = ("-I", str(root / "include"), "-I", str(root / "src" / "common"))
    return tflm_build.KernelSwap(
        label=f"ESP-NN (esp-nn {esp_nn_version})", replace=(FULLY_CONNECTED,),
        cxx_flags=("-DESP_NN=1", *includes, "-I", str(STUB_DIR)),
        c_sources=portable_sources(root), c_flags=includes,
        headers=(root / "include", root / "src", STUB_DIR))


@dataclass(frozen=True)
class Build:
    """One way the ESP32's TFLM may be built: a library version and its FULLY_CONNECTED."""

    tflm: str  # esp-tflite-micro version
    esp_nn: bool  # ESP-NN's kernel (True) or TFLM's reference kernel

    @property
    def kernel(self) -> str:
        """Return the FULLY_CONNECTED kernel's description."""
        return f"ESP-NN (esp-nn {PAIRS[self.tflm]})" if self.esp_nn else "reference"

    def parts(self, vendor: Vendor | None = None) -> tuple[tflm_build.Source,
                                                          tflm_build.KernelSwap | None]:
        """Return the source tree and kernel swap to build with, from ``vendor``."""
        return (tflm_source(self.tflm, vendor),
                swap(PAIRS[self.tflm], vendor) if self.esp_nn else None)


BUILDS = tuple(Build(version, nn) for version in PAIRS for nn in (False, True))


def run_codes(build: Build, tflite: bytes, codes, build_dir, target: str = "host",
              vendor: Vendor | None = None) -> np.ndarray:
    """Return the int8 outputs of ``tflite`` for each row of ``codes`` under ``build`` on
    ``target``, run inside the firmware harness."""
    src, kernels = build.parts(vendor)
    program = tflm_build.build_bench(target, tflite, codes, Path(build_dir),
                                     arena_size=BENCH_ARENA, src=src, swap=kernels)
    return firmware.run(target, program).outputs


def sketch_run(folder, build: Build, target: str = "host", build_dir=None,
               loops: int = 2, *, tflite: bytes, arena_size: int,
               vendor: Vendor | None = None) -> tflm_build.SketchRun:
    """Return what the TFLM sketch in ``folder`` prints when built with ``build`` and the model
    ``tflite`` with ``arena_size`` (its self-test line included) on ``target``."""
    src, kernels = build.parts(vendor)
    program = tflm_build.build_sketch(folder, target, build_dir, tflite=tflite,
                                      arena_size=arena_size, src=src, swap=kernels, loops=loops)
    return tflm_build.run_sketch(program, target)


@dataclass(frozen=True)
class Row:
    """One build's results for each model: outputs equal to the TFLM runtime, of how many."""

    build: Build
    equal: dict[str, int]  # model name -> inputs whose outputs equal the TFLM Python runtime
    distinct: dict[str, int]  # model name -> number of different output codes it printed
    cases: int


def kernel_table(models: dict[str, bytes], build_dir, target: str = "host",
                 builds=BUILDS, vendor: Vendor | None = None) -> list[Row]:
    """Return one :class:`Row` per build: each model over all 256 input codes (one-input
    models) compared with the TFLM Python runtime (:func:`tflm.run`)."""
    if not models:
        raise ValueError("models must name at least one .tflite")
    wanted = {}
    for name, tflite in models.items():
        n_in = dense.int8_layers(tflite).n_inputs
        if n_in != 1:
            raise ValueError(f"{name}: one-input models only (it has {n_in} inputs)")
        codes = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
        wanted[name] = (codes, tflm.run(tflite, codes))
    rows = []
    for build in builds:
        equal, distinct = {}, {}
        for name, tflite in models.items():
            codes, want = wanted[name]
            folder = Path(build_dir) / f"{build.tflm}-{'esp_nn' if build.esp_nn else 'ref'}"
            got = run_codes(build, tflite, codes, folder / name, target, vendor)
            equal[name] = int(np.all(got == want, axis=1).sum())
            distinct[name] = len(np.unique(got, axis=0))
        rows.append(Row(build, equal, distinct, len(codes)))
    return rows


def table_record(rows: list[Row], target: str) -> dict:
    """Return the rows as plain data (what the benchmark stores for lesson 06)."""
    return {"target": tflm_build.get_target(target).cxx.title, "cases": rows[0].cases,
            "rows": [{"tflm": r.build.tflm, "kernel": r.build.kernel, "equal": r.equal,
                      "distinct": r.distinct} for r in rows]}


def table_markdown(record: dict) -> str:
    """Return a :func:`table_record` as a Markdown table: outputs equal to the TFLM runtime,
    of all input codes, per model."""
    names = list(record["rows"][0]["equal"])
    cases = record["cases"]
    lines = ["| esp-tflite-micro | FULLY_CONNECTED kernel | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for row in record["rows"]:
        cells = []
        for name in names:
            cell = f"{row['equal'][name]}/{cases}"
            if row["equal"][name] != cases:
                n = row["distinct"][name]
                cell = f"**{cell}** " + ("(one output for every input)" if n == 1
                                         else f"({n} distinct outputs)")
            cells.append(cell)
        lines.append(f"| {row['tflm']} | {row['kernel']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
        src, kernels = build.parts(vendor)
        name = f"{build.tflm} {build.kernel}"
        folder = Path(build_dir) / f"{build.tflm}-{'esp_nn' if build.esp_nn else 'ref'}"
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
    parser.add_argument("models", nargs="+", type=Path, help="one-input int8 .tflite files")
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
    models = {p.stem: p.read_bytes() for p in args.models}
    with tempfile.TemporaryDirectory(prefix="esp-nn-") as tmp:
        rows = kernel_table(models, tmp, args.target, vendor=vendor)
    print(table_markdown(table_record(rows, args.target)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
