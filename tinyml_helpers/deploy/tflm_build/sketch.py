"""An Arduino TFLM sketch built with a small Arduino stand-in (``deploy/arduino_shim/``) against
the TFLM library, run on this PC or the Cortex-M4F (QEMU), and what it prints on Serial.

The sketch's folder gives the .ino (and any .cpp/.c/.h beside it). The model comes from the
caller as .tflite bytes: ``model.h`` and ``model.cpp`` are generated from them with
:func:`export.c_array_files` and the arena size asked for, and the model's operators choose
the kernels linked (:mod:`.kernels`). Nothing is read back from the folder's generated C.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import boards, dense, export, self_test, toolchains
from ..hello_world import int8_predictions, sketch_x
from .kernels import kernels_for, model_ops
from .library import (
    CXX_FLAGS,
    DEPLOY_DIR,
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
from .source import Source, TflmBuildError, get_target, require

__all__ = ["DEFAULT_LOOPS", "DEFAULT_TIMEOUT_S", "SHIM_DIR", "SketchRun", "build_sketch",
           "check_sketch", "compile_sketch", "execute", "expected_rows", "model_files",
           "parse_serial", "run_sketch", "sketch_flags", "sketch_x"]

SHIM_DIR = DEPLOY_DIR / "arduino_shim"
DEFAULT_LOOPS = 20  # loop() calls per stand-in run: one sine period of the hello-world sketch
DEFAULT_TIMEOUT_S = 60.0


def model_files(tflite: bytes, arena_size: int) -> dict[str, str]:
    """Return ``model.h`` / ``model.cpp`` of ``tflite`` (``g_model``, ``g_model_len``) with
    ``kTensorArenaSize = arena_size``, as the course's TFLM sketches include them."""
    return export.c_array_files(tflite, name="g_model", arena_size=arena_size, header="model.h")


def _sketch_file(folder: Path) -> Path:
    sketches = sorted(folder.glob("*.ino"))
    if len(sketches) != 1:
        raise ValueError(f"{folder} must hold exactly one .ino sketch, found {len(sketches)}")
    return sketches[0]


def sketch_flags(target: str, src: Source, static_memory: bool = True, esp32: bool = True,
                 defines: dict | None = None, loops: int = DEFAULT_LOOPS) -> list[str]:
    """Return the compiler flags of a sketch built with the Arduino stand-in: the library's
    flags (``static_memory=False`` leaves out -DTF_LITE_STATIC_MEMORY, as a mistaken build
    would), ``ARDUINO_ARCH_ESP32`` when ``esp32``, TFLM's headers as system headers (their
    warnings are TFLM's), and -Wall -Wextra -Werror for the sketch itself."""
    build = cxx(target)
    flags = [*build.arch, *(f for f in CXX_FLAGS
                            if static_memory or f != "-DTF_LITE_STATIC_MEMORY"),
             "-Wall", "-Wextra", "-Werror", f"-DARDUINO_SHIM_LOOPS={int(loops)}", *build.compile]
    if esp32:
        flags.append("-DARDUINO_ARCH_ESP32")
    for name, value in (defines or {}).items():
        flags.append(f"-D{name}" if value is None else f"-D{name}={value}")
    return [*flags, "-I", str(SHIM_DIR), *system_includes(src.root)]


def _kernels(tflite, kernels) -> tuple[str, ...] | None:
    if kernels is not None or tflite is None:
        return kernels
    return kernels_for(model_ops(tflite))


def build_sketch(folder, target: str = "host", build_dir=None, *, tflite: bytes | None = None,
                 arena_size: int | None = None, kernels: tuple[str, ...] | None = None,
                 static_memory: bool = True, esp32: bool = True, defines: dict | None = None,
                 loops: int = DEFAULT_LOOPS, src: Source | None = None,
                 swap: KernelSwap | None = None) -> Path:
    """Return the program (host executable or M4 ELF) of the sketch in ``folder`` built with
    the Arduino stand-in.

    ``tflite`` is the model the sketch runs, with ``arena_size`` (both or neither): its
    ``model.h`` and ``model.cpp`` are generated from them in place of the folder's, and its
    operators choose the TFLM kernels linked. Without a model the folder's files are compiled
    as they are and no TFLM library is linked unless ``kernels`` names some (a sketch that
    does not use TFLM, such as the plain-C ones, needs none).

    The .ino is compiled as C++ with ``Arduino.h`` included first, as the Arduino IDE does;
    every .cpp/.c beside it is compiled too. ``src`` and ``swap`` choose the TFLM tree and
    kernels (``src`` default: :func:`source.source` of ``$TFLM_SRC``). Raises
    :class:`TflmBuildError` with the compiler's output.
    """
    folder = Path(folder)
    src = require(target, src)
    if (tflite is None) != (arena_size is None):
        raise ValueError("give tflite and arena_size together: model.h and model.cpp are "
                         "generated from the model's bytes with that arena")
    spec = get_target(target)
    build = cxx(target)
    sketch = _sketch_file(folder)
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="tflm-sketch-"))
    build_dir.mkdir(parents=True, exist_ok=True)
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())
             if p.suffix in (".ino", ".h", ".cpp", ".c")}
    if tflite is not None:
        files.update(model_files(tflite, int(arena_size)))
    kernels = _kernels(tflite, kernels)
    staged = stage(src.cache, files)
    flags = [*sketch_flags(target, src, static_memory, esp32, defines, loops), "-I",
             str(staged)]
    headers = [*headers_in(staged), *headers_in(SHIM_DIR)]
    salt = tree_key(src)
    lib = library(target, kernels, src=src, swap=swap) if kernels is not None else None
    objects = [cached_object(src.cache, build.compiler, [*flags, "-include", "Arduino.h"],
                             staged / sketch.name, headers, salt)]
    for extra in sorted(staged.glob("*.cpp")) + sorted(staged.glob("*.c")):
        compiler = build.compiler if extra.suffix == ".cpp" else spec.compiler
        extra_flags = flags if extra.suffix == ".cpp" else [
            f for f in flags
            if not f.startswith(("-std=gnu++", "-fno-rtti", "-fno-threadsafe-statics"))]
        objects.append(cached_object(src.cache, compiler, extra_flags, extra, headers, salt))
    objects.append(cached_object(src.cache, build.compiler, flags, SHIM_DIR / "arduino_shim.cpp",
                                 headers, salt))
    objects += support_objects(target, src)
    suffix = "exe" if target == "host" else "elf"
    return link(target, objects, lib, build_dir / f"{sketch.stem}.{target}.{suffix}",
                printf_float=True)


def compile_sketch(folder, target: str = "host", src: Source | None = None,
                   **options) -> subprocess.CompletedProcess:
    """Compile (only) the sketch's .ino with the given options and return the compiler run,
    stopping at the first error: for checking that its ``#error`` guards fire. Options as for
    :func:`sketch_flags`."""
    folder = Path(folder)
    src = require(target, src)
    flags = [*sketch_flags(target, src, **options), "-I", str(folder), "-include", "Arduino.h"]
    # -Wfatal-errors: stop at the first error (an #error comes before the TFLM headers).
    return toolchains.run_program([cxx(target).compiler, *flags, "-fsyntax-only",
                                   "-Wfatal-errors", "-x", "c++", str(_sketch_file(folder))],
                                  300.0)


# --- running and reading what it prints ----------------------------------------------------------

def execute(target: str, program, timeout_s: float,
            args: tuple[str, ...] = ()) -> tuple[int, list[str], str, float]:
    """Run ``program`` on ``target`` (the board table's command, :func:`toolchains.run_program`)
    with command-line ``args``; return (returncode, stdout lines, stderr, seconds). A hang
    counts as returncode -9, with what it printed until then."""
    command = boards.program_command(target, program, args)
    started = time.perf_counter()
    try:
        done = toolchains.run_program(command, timeout_s)
        code, out, err = done.returncode, done.stdout, done.stderr
    except toolchains.SimulationTimeout as exc:
        code, out, err = -9, exc.stdout, exc.stderr + f"\n(timed out after {timeout_s:g} s)"
    lines = [line.rstrip("\r") for line in out.splitlines()]
    return code, lines, err, time.perf_counter() - started


_ROW = re.compile(r"x=(-?\d+\.\d{3}), y=(-?\d+\.\d{3}), sin=(-?\d+\.\d{3}), us=(\d+)")
_HEADER = re.compile(r"(\w+): (\d+)-byte model, arena (\d+) bytes, (\d+) used")


@dataclass
class SketchRun:
    """What a sketch printed on Serial, parsed."""

    target: str
    lines: list[str]
    rows: list[dict[str, str]]  # {"x", "y", "sin", "us"} as printed
    arena: int | None  # the arena size the sketch reported (None if setup() failed)
    arena_used: int | None
    returncode: int
    stderr: str
    seconds: float
    other: list[str] = field(default_factory=list)  # lines that are neither header nor row
    self_test: self_test.Result | None = None  # what the sketch's boot-time check printed

    @property
    def ok(self) -> bool:
        """True if the run ended normally after setup() succeeded and passed its self-test."""
        return (self.returncode == 0 and self.arena is not None and not self.other
                and self.self_test is not None and self.self_test.ok)

    def printed(self) -> list[tuple[str, str]]:
        """Return the (x, y) pairs exactly as printed."""
        return [(row["x"], row["y"]) for row in self.rows]


def parse_serial(lines: list[str]) -> tuple[tuple[int, int] | None, list[dict[str, str]],
                                             list[str]]:
    """Return ((arena, used) or None, rows, other lines) of the sketch's serial output; the
    self-test lines are none of these (:func:`self_test.parse` reads them)."""
    header, rows, other = None, [], []
    for line in lines:
        if not line.strip() or line.startswith(self_test.PREFIX):
            continue
        if match := _ROW.fullmatch(line):
            rows.append(dict(zip(("x", "y", "sin", "us"), match.groups(), strict=True)))
        elif (match := _HEADER.fullmatch(line)) and header is None and not rows:
            header = (int(match.group(3)), int(match.group(4)))
        else:
            other.append(line)
    return header, rows, other


def run_sketch(program, target: str = "host", timeout_s: float = DEFAULT_TIMEOUT_S) -> SketchRun:
    """Run a program from :func:`build_sketch` (on QEMU for "m4") and return its
    :class:`SketchRun`; a crash or hang shows as a non-zero ``returncode``."""
    get_target(target)
    code, lines, err, seconds = execute(target, Path(program), timeout_s)
    header, rows, other = parse_serial(lines)
    arena, used = header if header else (None, None)
    return SketchRun(target, lines, rows, arena, used, code, err, seconds, other,
                     self_test.parse(lines))


def expected_rows(tflite: bytes, steps: int = DEFAULT_LOOPS) -> list[tuple[str, str]]:
    """Return the (x, y) pairs the int8 hello-world sketch must print, as ``printf("%.3f")``
    prints them: x quantized as the sketch does (lroundf in float32), the plain-C / TFLM int8
    arithmetic (:func:`dense.int8_reference`), y = scale * (code - zero_point) in float32."""
    x = sketch_x(steps)
    y = int8_predictions(dense.int8_layers(tflite), x)
    return [(f"{xi:.3f}", f"{yi:.3f}") for xi, yi in zip(x, y, strict=True)]


def check_sketch(folder, target: str = "host", build_dir=None, *, tflite: bytes,
                 arena_size: int, steps: int = DEFAULT_LOOPS,
                 timeout_s: float = DEFAULT_TIMEOUT_S, **build_options) -> SketchRun:
    """Build the hello-world sketch in ``folder`` with the model ``tflite`` and ``arena_size``
    (see :func:`build_sketch`), run it, and return its run after checking every printed
    (x, y) equals :func:`expected_rows` (``steps``: the sketch's x values per period).
    Raises :class:`TflmBuildError` saying what differs."""
    program = build_sketch(folder, target, build_dir, tflite=tflite, arena_size=arena_size,
                           **build_options)
    run = run_sketch(program, target, timeout_s)
    if run.self_test is not None and not run.self_test.ok:
        checks = [line for line in run.lines if line.startswith(self_test.PREFIX)]
        raise TflmBuildError(f"the sketch's self-test failed on {target}:\n" + "\n".join(checks))
    if not run.ok or len(run.rows) != build_options.get("loops", DEFAULT_LOOPS):
        raise TflmBuildError(f"the sketch did not run to its end on {target} (exit "
                             f"{run.returncode}):\n" + "\n".join(run.lines[-20:])
                             + run.stderr[-2000:])
    want = expected_rows(tflite, steps)
    want = [want[i % len(want)] for i in range(len(run.rows))]
    if run.printed() != want:
        diff = [f"{got} != {exp}" for got, exp in zip(run.printed(), want, strict=True)
                if got != exp]
        raise TflmBuildError(f"{target}: {len(diff)} printed (x, y) differ from the plain-C "
                             f"arithmetic: {diff[:5]}")
    return run
