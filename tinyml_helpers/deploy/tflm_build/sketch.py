"""An Arduino TFLM sketch built with a small Arduino stand-in (``deploy/arduino_shim/``) against
the TFLM library, run on this PC or the Cortex-M4F (QEMU), and what it prints on Serial.

The sketch's folder gives the .ino (and any .cpp/.c/.h beside it). The model comes from the
caller as .tflite bytes: ``model.h`` and ``model.cpp`` are generated from them with
:func:`export.c_array_files` and the arena size asked for, and the model's operators choose
the kernels linked (:mod:`.kernels`). Nothing is read back from the folder's generated C.

What a sketch prints is read as rows of ``key=value, key=value, ...`` with the keys the caller
names: the hello-world sketch's ``x, y, sin, us`` (:data:`SINE_KEYS`, the default) or any other
sketch's (lesson 08's digits sketch prints ``digit, label, class, confidence, us``), besides
the header line ``<project>: N-byte model, arena N bytes, N used``, the self-test lines and the
summary lines the caller allows (``notes``). :func:`check_sketch` compares the rows with the
sine arithmetic or with rows the caller expects.
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

__all__ = ["DEFAULT_LOOPS", "DEFAULT_TIMEOUT_S", "SHIM_DIR", "SINE_KEYS", "SketchRun",
           "build_sketch", "check_sketch", "compile_sketch", "execute", "expected_rows",
           "model_files", "parse_serial", "run_sketch", "sketch_flags", "sketch_x",
           "split_notes"]

SHIM_DIR = DEPLOY_DIR / "arduino_shim"
DEFAULT_LOOPS = 20  # loop() calls per stand-in run: one sine period of the hello-world sketch
DEFAULT_TIMEOUT_S = 60.0
SINE_KEYS = ("x", "y", "sin", "us")  # what the hello-world sketch prints per inference


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
_KEY = re.compile(r"[A-Za-z_]\w*")


def _row_pattern(keys) -> re.Pattern:
    """Return the pattern of one row printing ``keys`` in order: the sine's exact number
    formats for :data:`SINE_KEYS`, else ``key=value`` pairs (values without commas or
    spaces) joined by ", "."""
    if isinstance(keys, str) or not isinstance(keys, (tuple, list)) or not keys \
            or not all(isinstance(k, str) and _KEY.fullmatch(k) for k in keys) \
            or len(set(keys)) != len(keys):
        raise ValueError(f"keys must be a non-empty tuple of distinct names, got {keys!r}")
    if tuple(keys) == SINE_KEYS:
        return _ROW
    return re.compile(", ".join(rf"{re.escape(k)}=([^,\s]+)" for k in keys))


def _notes_pattern(notes) -> re.Pattern | None:
    if notes is None or isinstance(notes, re.Pattern):
        return notes
    if isinstance(notes, str):
        return re.compile(notes)
    raise TypeError(f"notes must be a regular expression (str or compiled), got "
                    f"{type(notes).__name__}")


@dataclass
class SketchRun:
    """What a sketch printed on Serial, parsed."""

    target: str
    lines: list[str]
    rows: list[dict[str, str]]  # {key: value} as printed, e.g. {"x", "y", "sin", "us"}
    arena: int | None  # the arena size the sketch reported (None if setup() failed)
    arena_used: int | None
    returncode: int
    stderr: str
    seconds: float
    other: list[str] = field(default_factory=list)  # lines that are neither header nor row
    self_test: self_test.Result | None = None  # what the sketch's boot-time check printed
    notes: list[str] = field(default_factory=list)  # the summary lines the caller allowed

    @property
    def ok(self) -> bool:
        """True if the run ended normally after setup() succeeded and passed its self-test."""
        return (self.returncode == 0 and self.arena is not None and not self.other
                and self.self_test is not None and self.self_test.ok)

    def printed(self, keys: tuple[str, ...] = ("x", "y")) -> list[tuple[str, ...]]:
        """Return the values of ``keys`` of every row, exactly as printed (default the
        hello-world sketch's (x, y) pairs)."""
        return [tuple(row[k] for k in keys) for row in self.rows]


def parse_serial(lines: list[str], keys: tuple[str, ...] = SINE_KEYS,
                 notes=None) -> tuple[tuple[int, int] | None, list[dict[str, str]], list[str]]:
    """Return ((arena, used) or None, rows, other lines) of the sketch's serial output, rows
    being the lines that print ``keys`` (:func:`_row_pattern`); the self-test lines and those
    matching ``notes`` (a regular expression; :func:`split_notes` returns them) are none of
    these (:func:`self_test.parse` reads the self-test)."""
    row, allowed = _row_pattern(keys), _notes_pattern(notes)
    header, rows, other = None, [], []
    for line in lines:
        if not line.strip() or line.startswith(self_test.PREFIX):
            continue
        if allowed is not None and allowed.fullmatch(line):
            continue
        if match := row.fullmatch(line):
            rows.append(dict(zip(keys, match.groups(), strict=True)))
        elif (match := _HEADER.fullmatch(line)) and header is None and not rows:
            header = (int(match.group(3)), int(match.group(4)))
        else:
            other.append(line)
    return header, rows, other


def split_notes(lines: list[str], notes) -> list[str]:
    """Return the lines that match ``notes`` (a regular expression; None matches none)."""
    allowed = _notes_pattern(notes)
    return [] if allowed is None else [line for line in lines if allowed.fullmatch(line)]


def run_sketch(program, target: str = "host", timeout_s: float = DEFAULT_TIMEOUT_S,
               keys: tuple[str, ...] = SINE_KEYS, notes=None) -> SketchRun:
    """Run a program from :func:`build_sketch` (on QEMU for "m4") and return its
    :class:`SketchRun`, reading rows of ``keys`` and setting apart the lines matching
    ``notes`` (see :func:`parse_serial`); a crash or hang shows as a non-zero
    ``returncode``."""
    get_target(target)
    _row_pattern(keys)  # bad keys fail before the run
    code, lines, err, seconds = execute(target, Path(program), timeout_s)
    header, rows, other = parse_serial(lines, keys, notes)
    arena, used = header if header else (None, None)
    return SketchRun(target, lines, rows, arena, used, code, err, seconds, other,
                     self_test.parse(lines), split_notes(lines, notes))


def expected_rows(tflite: bytes, steps: int = DEFAULT_LOOPS) -> list[tuple[str, str]]:
    """Return the (x, y) pairs the int8 hello-world sketch must print, as ``printf("%.3f")``
    prints them: x quantized as the sketch does (lroundf in float32), the plain-C / TFLM int8
    arithmetic (:func:`dense.int8_reference`), y = scale * (code - zero_point) in float32."""
    x = sketch_x(steps)
    y = int8_predictions(dense.int8_layers(tflite), x)
    return [(f"{xi:.3f}", f"{yi:.3f}") for xi, yi in zip(x, y, strict=True)]


def _check_expected(expected, compare) -> list[tuple[str, ...]]:
    if isinstance(compare, str) or not isinstance(compare, (tuple, list)) or not compare:
        raise ValueError(f"compare must be a non-empty tuple of keys, got {compare!r}")
    if isinstance(expected, (str, bytes)) or not isinstance(expected, (list, tuple)) \
            or not expected:
        raise TypeError("expected must be a non-empty list of rows (tuples of printed values)")
    rows = []
    for i, row in enumerate(expected):
        if isinstance(row, (str, bytes)) or not isinstance(row, (tuple, list)) \
                or len(row) != len(compare) or not all(isinstance(v, str) for v in row):
            raise TypeError(f"expected[{i}] must be {len(compare)} printed values (str) for "
                            f"{tuple(compare)}, got {row!r}")
        rows.append(tuple(row))
    return rows


def check_sketch(folder, target: str = "host", build_dir=None, *, tflite: bytes,
                 arena_size: int, steps: int = DEFAULT_LOOPS,
                 timeout_s: float = DEFAULT_TIMEOUT_S, keys: tuple[str, ...] = SINE_KEYS,
                 expected=None, compare: tuple[str, ...] = ("x", "y"), notes=None,
                 **build_options) -> SketchRun:
    """Build the sketch in ``folder`` with the model ``tflite`` and ``arena_size`` (see
    :func:`build_sketch`), run it, and return its run after checking what it printed.

    By default the sketch is the hello-world one: every printed (x, y) must equal
    :func:`expected_rows` (``steps``: the sketch's x values per period) and it must print one
    row per loop. Another sketch names the ``keys`` of its rows, the ``expected`` values of the
    ``compare`` keys of each row (the whole run, in order, as printed) and the summary lines
    it may print besides (``notes``, a regular expression). Raises :class:`TflmBuildError`
    saying what differs."""
    want = None if expected is None else _check_expected(expected, compare)
    if want is not None and not set(compare) <= set(keys):
        raise ValueError(f"compare {tuple(compare)} must be among the keys {tuple(keys)}")
    program = build_sketch(folder, target, build_dir, tflite=tflite, arena_size=arena_size,
                           **build_options)
    run = run_sketch(program, target, timeout_s, keys, notes)
    if run.self_test is not None and not run.self_test.ok:
        checks = [line for line in run.lines if line.startswith(self_test.PREFIX)]
        raise TflmBuildError(f"the sketch's self-test failed on {target}:\n" + "\n".join(checks))
    rows = build_options.get("loops", DEFAULT_LOOPS) if want is None else len(want)
    if not run.ok or len(run.rows) != rows:
        raise TflmBuildError(f"the sketch did not run to its end on {target} (exit "
                             f"{run.returncode}, {len(run.rows)} of {rows} rows):\n"
                             + "\n".join(run.lines[-20:]) + run.stderr[-2000:])
    if want is None:
        sine = expected_rows(tflite, steps)
        want = [sine[i % len(sine)] for i in range(len(run.rows))]
    got = run.printed(tuple(compare))
    if got != want:
        diff = [f"{g} != {e}" for g, e in zip(got, want, strict=True) if g != e]
        what = "the plain-C arithmetic" if expected is None else "the expected rows"
        raise TflmBuildError(f"{target}: {len(diff)} printed {tuple(compare)} differ from "
                             f"{what}: {diff[:5]}")
    return run
