"""Build the plain-C inference into firmware and run it on simulated boards, offline.

Three targets run the *same* C (the model from :func:`export.plain_c_files`, the kernels in
``deploy/c``) inside one small harness (``deploy/harness/harness.c``):

* ``"uno"``  — Arduino Uno, ATmega328P at 16 MHz: ``avr-gcc -Os``, run by ``simavr``. Timer1
  counts exact cycles per inference.
* ``"m4"``   — a Cortex-M4F (the Nano 33 BLE's core): ``arm-none-eabi-gcc`` with newlib-nano and
  semihosting, run by ``qemu-system-arm -M mps2-an386 -icount shift=0``. QEMU does not model
  cycles; SysTick then counts guest *instructions*, and that is what is reported.
* ``"host"`` — the PC, ``gcc -O2``; x86-64 instructions via ``valgrind --tool=callgrind``.

The harness embeds the input vectors at compile time and prints strict lines
(:mod:`harness_output`): :func:`run` refuses a crash, a hang, a missing or garbled line instead
of returning part of the results. The boards themselves are described in :mod:`boards`.
:func:`sizes` reads flash and RAM; :func:`measure` also builds the harness *without* a model,
so flash and RAM are reported over that empty baseline.

Command line: ``python -m tinyml_helpers.deploy.firmware run uno|m4|host [--model F.tflite]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import c_model, cgen, export, graph, quant, toolchains
from .boards import (  # noqa: F401  (part of this module's interface)
    M4_CLOCK_NOTE,
    MEMORY,
    TARGETS,
    FirmwareError,
    Target,
    ToolchainMissing,
    get_target,
    install_hint,
    missing_tools,
    require,
)
from .c_model import CModel
from .files import write_files
from .harness_output import RunResult, failure, parse_output  # noqa: F401
from .quant import real_array
from .toolchains import Sizes

HARNESS_DIR = Path(__file__).resolve().parent / "harness"
HARNESS_FILES = frozenset(p.name for p in HARNESS_DIR.iterdir())
CASES_TEMPLATE = Path(__file__).resolve().parent / "templates" / "c" / "harness_cases.h"
KINDS = ("int8", "float")
DEFAULT_TIMEOUT_S = 120.0


# --- building ----------------------------------------------------------------------------------

def _check_model(model) -> CModel:
    """Return ``model`` after checking it is generated C with its facts (a :class:`CModel`)."""
    if not isinstance(model, CModel):
        raise TypeError("model must be the CModel that export.plain_c_files (or "
                        f"graph_c.generate) returns, got {type(model).__name__}")
    clash = sorted(set(model.files) & (HARNESS_FILES | {"harness_cases.h", "host_timing.c"}))
    if clash:
        raise ValueError(f"the model's files {clash} have the names of the harness's own files")
    return model


def check_fits(target: str, model: CModel, rows: np.ndarray | None = None) -> None:
    """Raise ValueError, naming the board and its memory, if the model's constants (plus the
    embedded input ``rows``) cannot fit its flash or its buffers and harness arrays its RAM.

    Both sums are lower bounds of what the firmware needs (code, stack and the harness come on
    top), so a refusal here is certain; a model that passes may still fail at link time.
    """
    _fits(target, _check_model(model), rows)


def _fits(target: str, model: CModel, rows: np.ndarray | None) -> None:
    """:func:`check_fits` for a model already checked."""
    if target not in MEMORY:
        return
    board, flash, ram = MEMORY[target]
    width = 1 if model.kind == "int8" else 4
    inputs = 0 if rows is None else rows.size * width
    need_flash = model.constant_bytes + inputs
    if need_flash > flash:
        raise ValueError(f"{model.prefix}: {model.constant_bytes:,} B of weights and constants"
                         + (f" and {inputs:,} B of embedded inputs" if inputs else "")
                         + f" do not fit the {flash:,} B of flash of {board}; make the model "
                         "smaller (prune, fewer filters) or pass fewer input rows")
    need_ram = model.activation_bytes + width * (model.n_inputs + 2 * model.n_outputs)
    if need_ram > ram:
        raise ValueError(f"{model.prefix}: {model.activation_bytes:,} B of activation buffers "
                         f"and {width * (model.n_inputs + 2 * model.n_outputs):,} B of input "
                         f"and output arrays do not fit the {ram:,} B of RAM of {board}; use "
                         "smaller inputs or fewer channels")


def _check_timeout(timeout_s) -> float:
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float, np.integer,
                                                                  np.floating)):
        raise TypeError(f"timeout_s must be a number of seconds, got {timeout_s!r}")
    if not 0 < timeout_s < float("inf"):
        raise ValueError(f"timeout_s must be > 0 and finite, got {timeout_s}")
    return float(timeout_s)


def _check_inputs(inputs, kind: str, n_in: int) -> np.ndarray:
    rows = real_array("inputs", inputs)
    if rows.ndim == 1 and n_in == 1:
        rows = rows.reshape(-1, 1)
    if rows.ndim != 2 or rows.shape[1] != n_in or len(rows) == 0:
        raise ValueError(f"inputs must have shape (cases, {n_in}), got {rows.shape}")
    if len(rows) > 65535:
        raise ValueError(f"at most 65,535 input cases fit the harness, got {len(rows)}")
    if kind == "int8":
        if not np.issubdtype(rows.dtype, np.integer):
            raise TypeError(f"an int8 model takes int8 codes; got {rows.dtype} inputs "
                            "(quantize them first, e.g. Int8Model.quantize)")
        if rows.min() < -128 or rows.max() > 127:
            raise ValueError("int8 input codes must lie in [-128, 127]")
        return rows.astype(np.int8)
    rows = rows.astype(np.float32)
    if not np.all(np.isfinite(rows)):
        raise ValueError("float inputs contain NaN or inf")
    return rows


def cases_header(kind: str, rows: np.ndarray, n_out: int, prefix: str | None) -> str:
    """Return the generated ``harness_cases.h``: sizes, the model's header, the inputs."""
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(rows, np.ndarray) or rows.ndim != 2 or 0 in rows.shape:
        raise ValueError("rows must be a non-empty (cases, inputs) array, got "
                         f"{getattr(rows, 'shape', type(rows).__name__)}")
    if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)) or n_out < 1:
        raise ValueError(f"n_out must be a positive int, got {n_out!r}")
    n, n_in = rows.shape
    model = (f'#include "{cgen.identifier(prefix, "prefix")}.h"\n'
             f"#define HARNESS_INVOKE {prefix}_invoke\n" if prefix
             else "/* empty baseline: no model, the harness calls an empty function */\n")
    literal = cgen.int_literal if kind == "int8" else cgen.float_literal
    return cgen.render(CASES_TEMPLATE, BANNER=cgen.banner("harness_cases.h").rstrip("\n"),
                       MODEL=model, INT8=str(int(kind == "int8")), N_CASES=str(n),
                       N_IN=str(n_in), N_OUT=str(n_out), N_VALUES=str(n * n_in),
                       CTYPE="int8_t" if kind == "int8" else "float",
                       INPUTS=cgen.initializer(rows, literal))


def build(target: str, model: CModel, inputs, kind: str | None = None, *,
          baseline: bool = False, build_dir=None) -> Path:
    """Return the path of a firmware ELF that runs the model on each row of ``inputs``.

    ``model`` is the :class:`CModel` from :func:`export.plain_c_files`; ``kind`` ("int8" or
    "float") is checked against it. ``baseline=True`` builds the same harness with the same
    inputs but no model (the call goes to an empty function): the "empty sketch" that
    :func:`measure` subtracts. Sources and ELF go to ``build_dir`` (default: a new temporary
    directory). Every ``.c`` of the model and its kernels is compiled; the harness calls
    ``<prefix>_invoke``. Before any compiler runs, the model's constants and buffers are
    checked against the board's flash and RAM (:func:`check_fits`).
    """
    spec = get_target(target)
    model = _check_model(model)
    prefix, model_kind = model.prefix, model.kind
    if not isinstance(baseline, bool):
        raise TypeError(f"baseline must be True or False, got {baseline!r}")
    if build_dir is not None and not isinstance(build_dir, (str, os.PathLike)):
        raise TypeError(f"build_dir must be a path or None, got {type(build_dir).__name__}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind is not None and kind != model_kind:
        raise ValueError(f"kind={kind!r} but {prefix}_invoke takes {model_kind} values")
    n_in, n_out = model.n_inputs, model.n_outputs
    rows = _check_inputs(inputs, model_kind, n_in)
    _fits(target, model, rows)
    require(target)
    if build_dir is not None and Path(build_dir).exists() and not Path(build_dir).is_dir():
        raise ValueError(f"build_dir {build_dir} is a file, not a folder")
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix=f"tinyml-{target}-"))
    name = f"{prefix}_baseline" if baseline else prefix
    src_dir = build_dir / f"{name}_src"
    files = {"harness_cases.h": cases_header(model_kind, rows, n_out, None if baseline else prefix)}
    for template in ("harness.c", "platform.h", *spec.platform_files):
        files[template] = (HARNESS_DIR / template).read_text(encoding="utf-8")
    sources = ["harness.c", *spec.platform_files]
    if not baseline:
        compiled = model.all_files()
        files.update(compiled)
        sources += sorted(n for n in compiled if n.endswith(".c"))
    write_files(src_dir, files)
    elf = build_dir / f"{name}.{target}.elf"
    flags = [f.format(templates=HARNESS_DIR) for f in spec.cflags]
    command = [spec.compiler, *flags, "-I", str(src_dir), "-o", str(elf) + ".tmp",
               *(str(src_dir / s) for s in sources), "-lm"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise FirmwareError(f"{spec.compiler} failed for {target} ({name}):\n"
                            f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
    os.replace(str(elf) + ".tmp", elf)
    meta = {"target": target, "kind": model_kind, "cases": len(rows), "inputs": n_in,
            "outputs": n_out, "prefix": prefix, "baseline": baseline}
    write_files(build_dir, {f"{name}.{target}.json": json.dumps(meta, indent=1)})
    return elf


# --- running -----------------------------------------------------------------------------------

def _board_lines(target: str, stdout: str, stderr: str) -> list[str]:
    """Return the lines the firmware printed, without the simulator's decoration."""
    if target == "uno":
        return toolchains.uart_lines(stderr)
    return [line.rstrip("\r") for line in stdout.splitlines()]


def _expected(elf: Path) -> dict | None:
    meta = Path(str(elf)[:-4] + ".json") if str(elf).endswith(".elf") else None
    if meta is None or not meta.exists():
        return None
    try:
        loaded = json.loads(meta.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{meta}: the build metadata is not valid JSON ({exc})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{meta}: the build metadata must be a JSON object")
    return loaded


def run(target: str, elf, timeout_s: float = DEFAULT_TIMEOUT_S) -> RunResult:
    """Return the parsed, checked results of running firmware ``elf`` on ``target``.

    Raises :class:`FirmwareError` with the captured output if the run crashes, exceeds
    ``timeout_s`` seconds (a hang), or prints anything missing or garbled.
    """
    spec = get_target(target)
    timeout_s = _check_timeout(timeout_s)
    elf = toolchains.firmware_path(elf)
    require(target)
    command = [part.format(elf=elf.resolve()) for part in spec.run_command]
    started = time.perf_counter()
    try:
        done = toolchains.run_program(command, timeout_s)
    except toolchains.SimulationTimeout as exc:
        text = "\n".join(_board_lines(target, exc.stdout, exc.stderr)) + (
            "" if target == "uno" else exc.stderr)
        raise failure(f"{target}: the firmware did not finish within {timeout_s:g} s (a hang?)",
                    text) from None
    seconds = time.perf_counter() - started
    lines = _board_lines(target, done.stdout, done.stderr)
    raw = "\n".join(lines) + ("\n" + done.stderr if target != "uno" and done.stderr else "")
    if done.returncode != 0:
        crash = [line.strip() for line in lines if "CRASH" in line or "ERROR" in line]
        what = f"the firmware reported {crash[0]!r}, " if crash else ""
        raise failure(f"{target}: {what}{command[0]} exited with code {done.returncode}", raw)
    try:
        result = parse_output(lines, _expected(elf))
    except FirmwareError as exc:
        raise FirmwareError(f"{target}: {exc}") from None
    result.text, result.seconds = raw, seconds
    return result


# --- sizes -------------------------------------------------------------------------------------

def sizes(target: str, elf) -> Sizes:
    """Return the :class:`Sizes` of ``elf`` read with avr-size / arm-none-eabi-size / size."""
    spec = get_target(target)
    return toolchains.read_sizes(toolchains.firmware_path(elf), spec.size_tool)


def host_instructions(elf, invoke: str) -> float:
    """Return x86-64 instructions per call of ``invoke`` in a host harness, via callgrind."""
    elf = toolchains.firmware_path(elf)
    cgen.identifier(invoke, "invoke")
    if shutil.which("valgrind") is None:
        raise ToolchainMissing("valgrind not found; install with: apt-get install -y valgrind")
    meta = _expected(elf) or {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               f"--toggle-collect={invoke}", str(elf)],
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0 or not out.exists():
            raise FirmwareError(f"callgrind failed:\n{done.stderr[-3000:]}")
        totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    if not totals:
        raise FirmwareError("callgrind wrote no instruction total")
    calls = 3 * int(meta.get("cases", 0))  # the harness calls invoke 3 times per case
    if calls == 0:
        raise FirmwareError(f"no build metadata next to {elf}: cannot count calls")
    return int(totals.group(1)) / calls


# --- one model on one target, over the empty baseline ------------------------------------------

@dataclass
class Measurement:
    """Cost of one model on one target, flash and RAM over the empty harness."""

    target: str
    prefix: str
    kind: str
    flash: int  # bytes of flash over the baseline: model data + inference code
    static_ram: int  # bytes of .data + .bss over the baseline
    stack: int  # deepest stack of one inference
    cost: float | None  # mean cycles / instructions per inference (None if not measured)
    cost_max: float | None
    unit: str
    result: RunResult

    @property
    def microseconds(self) -> float | None:
        """Return the mean time per inference at the real board's clock (None if unknown)."""
        clock = get_target(self.target).clock_hz
        return None if self.cost is None or clock is None else self.cost / clock * 1e6


def measure(target: str, model: CModel, inputs, build_dir=None,
            timeout_s: float = DEFAULT_TIMEOUT_S, host_cost: bool = False) -> Measurement:
    """Return the :class:`Measurement` of the model on ``target`` (built twice: with and
    without the model). ``host_cost=True`` counts host instructions with callgrind."""
    get_target(target)
    timeout_s = _check_timeout(timeout_s)
    if not isinstance(host_cost, bool):
        raise TypeError(f"host_cost must be True or False, got {host_cost!r}")
    if build_dir is not None and not isinstance(build_dir, (str, os.PathLike)):
        raise TypeError(f"build_dir must be a path or None, got {type(build_dir).__name__}")
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix=f"tinyml-{target}-"))
    elf = build(target, model, inputs, build_dir=build_dir)  # checks the model
    empty = build(target, model, inputs, baseline=True, build_dir=build_dir)
    prefix, kind = model.prefix, model.kind
    result = run(target, elf, timeout_s)
    full, base = sizes(target, elf), sizes(target, empty)
    cost = cost_max = None
    unit = result.unit
    if result.cost is not None:
        cost, cost_max = float(result.cost.mean()), float(result.cost.max())
    elif host_cost:
        cost = cost_max = host_instructions(elf, f"{prefix}_invoke")
        unit = "x86-64 instructions"
    return Measurement(target, prefix, kind, full.flash - base.flash, full.ram - base.ram,
                       result.stack_bytes, cost, cost_max, unit, result)


# --- command line ------------------------------------------------------------------------------

TIMING_TEMPLATE = Path(__file__).resolve().parent / "templates" / "c" / "host_timing.c"


@dataclass(frozen=True)
class HostTiming:
    """Wall-clock time of one call of a model's invoke() on this PC, with its outputs."""

    seconds: float  # per inference: the best of the repeats (the least disturbed)
    outputs: np.ndarray  # one row per input row, as printed by the timed program


def host_time(model: CModel, inputs, loops: int = 20_000, repeats: int = 5,
              build_dir=None) -> HostTiming:
    """Return the :class:`HostTiming` of the model compiled with ``gcc -O2`` for this PC.

    Unlike the harness (which counts instructions on simulated boards), this measures time:
    for comparing with an interpreter (MicroPython) running on the same PC.
    """
    model = _check_model(model)
    prefix, kind, n_in, n_out = model.prefix, model.kind, model.n_inputs, model.n_outputs
    rows = _check_inputs(inputs, kind, n_in)
    for name, value, low in (("loops", loops, 1), ("repeats", repeats, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if not low <= value <= 10_000_000:
            raise ValueError(f"{name} must be in {low}..10,000,000, got {value}")
    require("host")
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="tinyml-time-"))
    literal = cgen.int_literal if kind == "int8" else cgen.float_literal
    inputs_c = "{" + ", ".join(cgen.initializer(row, literal) for row in rows) + "}"
    main = cgen.render(TIMING_TEMPLATE, BANNER=cgen.banner("host_timing.c").rstrip("\n"),
                       PREFIX=prefix, UP=prefix.upper(), N_ROWS=str(len(rows)),
                       CTYPE="int8_t" if kind == "int8" else "float", INPUTS=inputs_c,
                       LOOPS=str(int(loops)), REPEATS=str(int(repeats)))
    src = build_dir / f"{prefix}_timing_src"
    write_files(src, {**model.all_files(), "host_timing.c": main})
    exe = build_dir / f"{prefix}_timing"
    sources = sorted(str(p) for p in src.glob("*.c"))
    done = subprocess.run(["gcc", "-O2", "-std=gnu99", "-I", str(src), "-o", str(exe), *sources,
                           "-lm"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise FirmwareError(f"gcc failed for the timing program:\n{done.stderr[-3000:]}")
    run_done = toolchains.run_program([str(exe)], DEFAULT_TIMEOUT_S)
    lines = run_done.stdout.splitlines()
    if run_done.returncode != 0 or not lines or not lines[-1].startswith("best_ns "):
        raise FirmwareError(f"the timing program failed:\n{run_done.stdout[-2000:]}"
                            f"{run_done.stderr[-2000:]}")
    outputs = np.array([[float(v) for v in line.split()[1:]] for line in lines[:-1]])
    if outputs.shape != (len(rows), n_out):
        raise FirmwareError(f"the timing program printed {outputs.shape} outputs, expected "
                            f"{(len(rows), n_out)}")
    if kind == "int8":
        outputs = outputs.astype(np.int8)
    return HostTiming(float(lines[-1].split()[1]) * 1e-9, outputs)


def _demo_inputs(g: graph.Graph, n_in: int):
    """Return (float inputs, harness inputs): 8 points over [0, 2π] per input feature."""
    x = np.linspace(0, 2 * np.pi, 8, dtype=np.float32)[:, None].repeat(n_in, axis=1)
    if g.is_int8:
        q = g.tensors[g.inputs[0]].quantization
        return x, quant.quantize(x, q.scale[0], int(q.zero_point[0]), bits=8, signed=True)
    return x, x


def _prefix_for(stem: str) -> str:
    """Return a C prefix made from a file name (``sine_int8.tflite`` -> ``sine_int8``)."""
    prefix = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_"
                     for c in stem.lower()) or "model"
    if not prefix[0].isalpha() or prefix in cgen.C_KEYWORDS \
            or prefix.startswith(c_model.RESERVED_PREFIXES):
        prefix = f"m_{prefix}"
    return prefix


def main(argv=None) -> int:
    """Run a model on a simulated board and print what it prints; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tinyml_helpers.deploy.firmware",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("run", help="build the harness for a target and run it")
    cmd.add_argument("target", choices=list(TARGETS))
    cmd.add_argument("--model", type=Path, help="a .tflite: float32 Dense layers or any full-int8 "
                     "graph of the supported operators (default "
                     "build/export/sine_<kind>.tflite, written by lesson 06 in `make build`)")
    cmd.add_argument("--kind", choices=KINDS, default="int8",
                     help="which default model to use (ignored with --model)")
    cmd.add_argument("--build-dir", type=Path, default=None,
                     help="where to put sources and ELFs (default build/firmware/<target>)")
    args = parser.parse_args(argv)

    path = args.model or Path("build/export") / f"sine_{args.kind}.tflite"
    if not path.is_file():
        parser.error(f"no model at {path}" + ("" if args.model else
                     ": run `make build` (lesson 06 exports it) or pass --model"))
    try:
        require(args.target)
        tflite = path.read_bytes()
        g = graph.read(tflite)
        prefix = _prefix_for(path.stem)
        model = export.plain_c_files(g, prefix)
        kind = model.kind
        x, rows = _demo_inputs(g, model.n_inputs)
        build_dir = args.build_dir or Path("build/firmware") / args.target
        m = measure(args.target, model, rows, build_dir=build_dir,
                    host_cost=args.target == "host" and shutil.which("valgrind") is not None)
    except (FirmwareError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    spec = get_target(args.target)
    print(f"{spec.title}: {prefix} ({kind}), {len(rows)} inputs; the board printed:")
    for line in m.result.text.splitlines():
        if line.startswith(("BEGIN", "OUT", "STACK", "DONE", "CYC 0 ")):
            print(f"  | {line}")
    if kind == "int8":
        q = g.tensors[g.outputs[0]].quantization
        y = quant.dequantize(m.result.outputs, q.scale[0], int(q.zero_point[0]))
    else:
        y = m.result.outputs
    sine = x.shape[1] == 1 and y.shape[1] == 1
    print("\n  x           y (board)" + ("   sin(x)" if sine else ""))
    for xi, yi in zip(x, y, strict=True):
        ref = f"  {np.sin(xi[0]):7.4f}" if sine else ""
        print(f"  {' '.join(f'{v:6.3f}' for v in xi):10}  "
              f"{' '.join(f'{v:8.4f}' for v in yi)}{ref}")
    if m.cost is None:
        print("\nper inference: not counted (install valgrind to count host instructions)")
    elif args.target == "uno":
        print(f"\nper inference: {m.cost:,.0f} cycles (max {m.cost_max:,.0f}) = "
              f"{m.microseconds:,.0f} µs at 16 MHz")
    elif args.target == "m4":
        print(f"\nper inference: {m.cost:,.0f} instructions (max {m.cost_max:,.0f}) ≈ "
              f"{m.microseconds:,.1f} µs {M4_CLOCK_NOTE}")
    else:
        print(f"\nper inference: {m.cost:,.0f} {m.unit} (callgrind)")
    print(f"flash over the empty harness: {m.flash:,} B; static RAM: {m.static_ram:,} B; "
          f"stack: {m.stack:,} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
