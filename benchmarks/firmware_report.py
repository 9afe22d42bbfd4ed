"""Print flash, RAM and latency of lesson 01's sine model as plain C on each simulated board.

Per target (Arduino Uno on simavr, Cortex-M4F on QEMU, this PC) and variant (plain-C float,
plain-C int8): flash and static RAM over the empty harness, the stack high-water mark, the cost
per inference and the time at the real board's clock; beside them the TFLM anchors (flatbuffer
bytes, exact tensor arena). Every run is also checked: int8 equal to the TFLM runtime for all
256 input codes, float within 1e-5 of LiteRT.

Run: ``.venv/bin/python benchmarks/firmware_report.py [--model-dir build/export]``. The models
come from ``make build`` (build/export/sine_{float,int8}.tflite); if missing they are trained on
the spot (about a minute). Nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from tinyml_helpers.deploy import dense, export, firmware, litert, tflm, tflm_build

FLOAT_TOLERANCE = 1e-5
TARGETS = {  # what each board's counter means
    "uno": "cycles",
    "m4": "instructions",
    "host": "x86-64 instructions",
}
GOALS = {"uno_cycles": 8000, "uno_flash": 1000, "uno_ram": 128, "m4_instructions": 800}


def _microseconds(m: firmware.Measurement) -> str:
    if m.target == "uno":
        return f"{m.microseconds:,.0f}"
    if m.target == "m4":
        return f"≈{m.microseconds:,.1f}"
    return "—"


def _load_or_train(path: Path, kind: str) -> bytes:
    """Return the .tflite at ``path``; if missing, train lesson 01's sine model and save it."""
    if path.is_file():
        return path.read_bytes()
    print(f"{path} not found: training lesson 01's sine model and converting it to {kind} "
          "(about a minute; `make build` writes the course's own)...", flush=True)
    from tinyml_helpers import models
    from tinyml_helpers.deploy import env

    env.setup(0)
    model, _ = models.trained_sine_model(0)
    rep = np.linspace(0, 2 * np.pi, 500, dtype=np.float32).reshape(-1, 1)
    tflite = litert.convert(model, "int8" if kind == "int8" else "float32",
                            rep if kind == "int8" else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    litert.save(tflite, path)
    print(f"saved {path}")
    return tflite


def _check(kind: str, m: firmware.Measurement, tflite: bytes, x, codes) -> str:
    if kind == "int8":
        same = np.array_equal(m.result.outputs, tflm.run(tflite, codes))
        return "= TFLM" if same else "DIFFERS FROM TFLM"
    err = float(np.abs(m.result.outputs - litert.predict(tflite, x)).max())
    if err == 0:
        return "= LiteRT"
    return f"±{err:.0e}" if err <= FLOAT_TOLERANCE else f"OFF BY {err:.1e}"


def main(argv: list[str]) -> int:
    """Measure and print the table; return 1 if a check failed, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("build/export"))
    args = parser.parse_args(argv)
    tflites = {kind: _load_or_train(args.model_dir / f"sine_{kind}.tflite", kind)
               for kind in ("float", "int8")}
    int8_model = dense.int8_layers(tflites["int8"])
    codes = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)  # every input code
    x = ((codes.astype(np.float32) - int8_model.input_zero_point)  # the same inputs as floats
         * np.float32(int8_model.input_scale))
    anchors = {kind: (len(t), tflm.arena_size(t)) for kind, t in tflites.items()}

    rows, skipped, failed, found = [], [], False, {}
    with tempfile.TemporaryDirectory() as tmp:
        for target, unit in TARGETS.items():
            missing = firmware.missing_tools(target)
            if missing:
                skipped.append(f"{target}: {', '.join(missing)} not installed "
                               f"({firmware.install_hint(target)})")
                continue
            for kind in ("float", "int8"):
                layers = dense.layers_from_tflite(tflites[kind])
                files = export.plain_c_files(layers, f"sine_{kind}")
                m = firmware.measure(target, files, codes if kind == "int8" else x,
                                     build_dir=Path(tmp) / f"{target}_{kind}",
                                     host_cost=target == "host")
                check = _check(kind, m, tflites[kind], x, codes)
                failed |= check.startswith(("DIFF", "OFF"))
                found[(target, kind)] = m
                rows.append((target, kind, m, unit, check))
        tflm_row = _tflm_on_m4(tflites["int8"], Path(tmp) / "tflm", skipped)

    print(f"\nlesson 01 sine model (1-16-16-1) as plain C: {len(codes)} inputs, every int8 code")
    print(f"| {'target':<6} | {'variant':<7} | {'flash B':>7} | {'static RAM B':>12} | "
          f"{'stack B':>7} | {'per inference (mean / max)':>34} | {'µs':>8} | "
          f"{'check':<8} |")
    print(f"|{'-' * 8}|{'-' * 9}|{'-' * 9}|{'-' * 14}|{'-' * 9}|{'-' * 36}|{'-' * 10}|"
          f"{'-' * 10}|")
    for target, kind, m, unit, check in rows:
        cost = f"{m.cost:,.0f} / {m.cost_max:,.0f} {unit}"
        print(f"| {target:<6} | {'C ' + kind:<7} | {m.flash:>7,} | {m.static_ram:>12,} | "
              f"{m.stack:>7,} | {cost:>34} | {_microseconds(m):>8} | {check:<8} |")
    if tflm_row is not None:
        t = tflm_row
        cost = f"{t.instructions:,.0f} instructions"
        us = f"≈{t.instructions / 64:,.1f}"
        print(f"| {'m4':<6} | {'TFLM':<7} | {t.flash:>7,} | {t.static_ram + t.arena:>12,} | "
              f"{t.stack:>7,} | {cost:>34} | {us:>8} | "
              f"{'= TFLM' if t.outputs_equal_tflm else 'DIFFERS':<8} |")
        print(f"(TFLM: esp-tflite-micro's reference kernels in the same harness; static RAM "
              f"includes its {t.arena:,} B arena; {t.setup_instructions:,} instructions of "
              "set-up once; benchmarks/tflm_vs_plain_c.py breaks it down)")
    print(f"\n| {'TFLM anchor':<11} | {'flatbuffer B':>12} | {'tensor arena B':>14} |")
    print(f"|{'-' * 13}|{'-' * 14}|{'-' * 16}|")
    for kind, (size, arena) in anchors.items():
        print(f"| {kind:<11} | {size:>12,} | {arena:>14,} |")
    print("(flatbuffer: len of the .tflite; arena: the exact minimum, tflm.arena_size; the TFLM "
          "runtime's own code comes on top)")
    print("\nflash and static RAM: over the same harness built without the model (the empty "
          "baseline); stack: the deepest one call of invoke() reached (painted stack).")
    print("uno: cycles counted by Timer1 at clk/1 (exact under simavr); µs at 16 MHz.")
    print("m4: QEMU counts instructions, not cycles (-icount shift=0, SysTick); µs ≈ "
          f"{firmware.M4_CLOCK_NOTE}.")
    print("host: x86-64 instructions per call counted by valgrind --tool=callgrind; no clock.")
    print(f"plain-C int8 data (weights, biases, multipliers, shifts): "
          f"{dense.data_bytes(int8_model):,} B")
    for line in skipped:
        print(f"skipped {line}")
    _print_goals(found, dense.data_bytes(int8_model))
    return 1 if failed else 0


def _tflm_on_m4(int8_tflite: bytes, build_dir: Path, skipped: list[str]):
    """Return TFLM's side of tflm_build.side_by_side on the M4, or None (and a skip line)."""
    from tinyml_helpers.tooling import paths  # the vendored TFLM tree and build/tflm

    reason = tflm_build.unavailable("m4", paths.TFLM_TARBALL)
    if reason:
        skipped.append(f"m4 TFLM: {reason}")
        return None
    return tflm_build.side_by_side(int8_tflite, build_dir, src=paths.tflm_source()).tflm


def _print_goals(found: dict, data: int) -> None:
    uno, m4 = found.get(("uno", "int8")), found.get(("m4", "int8"))
    print("\ngoals (issue: offline simulated boards):")
    if uno:
        met = uno.cost_max <= GOALS["uno_cycles"]
        print(f"  Uno int8 <= {GOALS['uno_cycles']:,} cycles: mean {uno.cost:,.0f}, max "
              f"{uno.cost_max:,.0f} -> {'met' if met else 'missed'}")
        ram = uno.static_ram + uno.stack
        print(f"  Uno int8 <= {GOALS['uno_ram']} B RAM (static + stack): {ram} -> "
              f"{'met' if ram <= GOALS['uno_ram'] else 'missed'}")
        print(f"  Uno int8 <= {GOALS['uno_flash']:,} B flash over the empty harness: "
              f"{uno.flash:,} ({data} B of it model data) -> "
              f"{'met' if uno.flash <= GOALS['uno_flash'] else 'missed'}")
    if m4:
        print(f"  Cortex-M4 int8 <= {GOALS['m4_instructions']} instructions: mean {m4.cost:,.0f}"
              f" -> {'met' if m4.cost <= GOALS['m4_instructions'] else 'missed'}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
