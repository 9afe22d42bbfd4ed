"""Check lesson 07's anomaly detector in C on the real test windows, on every simulated board,
and measure what a live accelerometer would cost each board.

The windows: the test part of Shawn Hymel's ceiling-fan recordings as lesson 07 splits them
(``fan_recordings.split(fan_recordings.load())``: the last 30 % of every recording by
recording order, 780 windows), as int16 counts of a ±2 g sensor.

Rows of the first table:
- the int8 autoencoder alone in the firmware harness (Uno, Cortex-M4 and this PC), on the
  input codes NumPy computes for every test window: outputs equal to the TFLM runtime;
- the whole detector (features, scaling, autoencoder, score): on the Cortex-M4 (QEMU) and this
  PC in the harness, every test window; on the Uno through the fan sketch's own code path, in
  check builds that store 16 windows each in flash and print every stage (``run_uno``), by
  default every 10th test window (``--uno-step``): each build is an arduino-builder compile
  plus a simavr run, so all 780 windows take 49 builds (224 s measured here) against 5 builds
  for 78 (16 s). Checks on every window run: features within fan_detector.FEATURE_RTOL/ATOL of
  NumPy, and the autoencoder's output codes equal to TFLM's on the codes the C fed in;
- the fan sketch as the course ships it (7 stored windows) on the Uno: its size, and its
  scores against the reference.

The second table is the live-sensor budget: per board its RAM, what the detector uses now
(static RAM and the deepest stack), what is left, whether a ring buffer of one second of
samples fits (3 axes or 1 axis, int16), and the compute time per 1 s window (Uno: micros() in
simavr at 16 MHz; Cortex-M4: QEMU's instruction count at one instruction per cycle and 64 MHz,
a lower bound). ``--write`` stores it in tinyml_helpers/measured/fan_live_budget.json, which
lesson 07 prints and the fan projects' READMEs quote.

Run: ``.venv/bin/python benchmarks/fan_detector_report.py [--from DIR] [--uno-step N] [--write]``
(default: the detector lesson 07 exported into build/export; else the committed
arduino/fan_anomaly). About 40 s with the defaults, about 4 minutes with ``--uno-step 1``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tinyml_helpers import fan_detector, fan_recordings
from tinyml_helpers.deploy import export, files, firmware, tflm, toolchains
from tinyml_helpers.deploy.files import write_atomic

ROOT = Path(__file__).resolve().parents[1]
UNO_STEP = 10
AXES = 3
ESP32_SRAM = 520 * 1024  # bytes, the ESP32 datasheet


def _load(source: Path | None) -> tuple[fan_detector.Detector, str]:
    for folder in ([source] if source else [ROOT / "build/export", ROOT / "arduino/fan_anomaly"]):
        if (folder / fan_detector.JSON_NAME).is_file():
            full = folder.resolve()
            return fan_detector.load(folder), str(full.relative_to(ROOT)
                                                  if full.is_relative_to(ROOT) else full)
    raise SystemExit(f"no {fan_detector.JSON_NAME} found; run lesson 07 (make build) first")


def _shipped_sketch(detector: fan_detector.Detector, tmp: Path) -> tuple[dict, list[dict]]:
    """Compile the fan sketch as the course ships it for the Uno, run one pass in simavr;
    return (avr-size sizes, the printed window rows)."""
    sketch = tmp / fan_detector.ARDUINO_FOLDER
    files.write_files(sketch, fan_detector.sketch_files(detector))
    elf = toolchains.compile_uno(sketch, tmp / "uno_build",
                                 {"TINYML_DELAY_MS": 0, "TINYML_PASSES": 1})
    rows = [dict(kv.split("=") for kv in line.split(", "))
            for line in toolchains.run_uno(elf, timeout_s=300) if line.startswith("window=")]
    return toolchains.avr_size(elf), rows


def _checks(detector, stages, ref) -> tuple[bool, bool, str]:
    """Return (features within tolerance, output codes equal to TFLM, a note)."""
    close = np.allclose(stages.features, ref.features, rtol=fan_detector.FEATURE_RTOL,
                        atol=fan_detector.FEATURE_ATOL)
    same = np.array_equal(stages.codes_out, tflm.run(detector.tflite, stages.codes_in))
    allowed = fan_detector.FEATURE_ATOL + fan_detector.FEATURE_RTOL * np.abs(ref.features)
    used = np.abs(stages.features - ref.features) / allowed
    mad = np.array_equal(stages.features[:, 3:6], ref.features[:, 3:6])
    note = (f"features use at most {used.max():.0%} of the tolerance, MAD "
            f"{'identical' if mad else 'DIFFERS'}; input codes equal to NumPy's "
            f"{np.mean(stages.codes_in == ref.codes_in):.2%}; verdicts equal "
            f"{np.mean(stages.anomaly == ref.anomaly):.1%}")
    return close, same, note


class Table:
    """A Markdown table printed row by row."""

    def __init__(self, columns: list[tuple[str, int]]):
        self.columns = columns
        print("| " + " | ".join(f"{name:<{width}}" for name, width in columns) + " |")
        print("|" + "|".join("-" * (width + 2) for _, width in columns) + "|")

    def row(self, *values) -> None:
        print("| " + " | ".join(f"{str(v):<{w}}" for v, (_, w) in zip(values, self.columns,
                                                                       strict=True)) + " |",
              flush=True)


def _ram(target: str, m: firmware.Measurement) -> tuple[str, str]:
    """Return (RAM, stack) of a harness measurement as printed: static + stack on a board;
    static only on this PC, whose stack probe stops at 1 KB."""
    if target == "host":
        return f"{m.static_ram:,}", "—"
    return f"{m.static_ram + m.stack:,}", f"{m.stack:,}"


def _ok(close: bool | None, same: bool) -> tuple[str, str]:
    return ("—" if close is None else "within tol." if close else "DIFFER"), \
        ("= TFLM" if same else "DIFFER")


def _room(what: str, need: int, free: int) -> str:
    """Return whether a buffer of ``need`` bytes fits in ``free``, and by how much."""
    if need <= free:
        return f"A {what} buffer ({need:,} B) fits with {free - need:,} B to spare."
    return f"A {what} buffer ({need:,} B) does not fit: it needs {need - free:,} B more."


def _budget(detector, where, uno, shipped, m4, counts) -> dict:
    """Return the live-sensor budget record (see the module docstring)."""
    samples = detector.num_samples
    ring = {"3 axes": AXES * samples * 2, "1 axis": samples * 2}
    boards = []
    if uno is not None:
        free = toolchains.UNO_RAM_BYTES - shipped["ram"] - uno.stack
        ms = uno.microseconds / 1000
        boards.append({
            "board": "uno", "title": "Arduino Uno (ATmega328P, 16 MHz)",
            "ram": toolchains.UNO_RAM_BYTES, "static_ram": shipped["ram"], "stack": uno.stack,
            "free": free, "fits": {k: v <= free for k, v in ring.items()},
            "compute_ms": round(float(ms.mean()), 1), "compute_ms_max": round(float(ms.max()), 1),
            "time_kind": "measured", "windows": len(uno.microseconds),
            "note": (f"static RAM: the whole sketch with the Arduino core and Serial (avr-size), "
                     f"its 800 B float buffer for one axis included; stack: the deepest over "
                     f"{len(uno.microseconds)} real test windows, by painting the free RAM; "
                     f"time: features + score by micros() in simavr at 16 MHz "
                     f"(cycle-accurate), mean of {len(uno.microseconds)} windows (max "
                     f"{ms.max():,.0f} ms). {_room('3-axis', ring['3 axes'], free)} "
                     f"{_room('1-axis', ring['1 axis'], free)} The detector takes the 12 "
                     f"features of all 3 axes: a one-axis detector (4 features) must be "
                     f"trained first. Computing takes {ms.mean() / 10:.0f} % of each 1 s "
                     f"window: samples that arrive meanwhile need a second buffer, or the "
                     f"sketch skips them.")})
    if m4 is not None:
        m = m4.measurement
        free = 256 * 1024 - m.static_ram - m.stack
        boards.append({
            "board": "m4", "title": "Cortex-M4F (Nano 33 BLE's nRF52840, 64 MHz, 256 KB RAM)",
            "ram": 256 * 1024, "static_ram": m.static_ram, "stack": m.stack, "free": free,
            "fits": {k: v <= free for k, v in ring.items()},
            "compute_ms": round(m.cost / 64e3, 2), "compute_ms_max": round(m.cost_max / 64e3, 2),
            "instructions": round(m.cost), "instructions_max": round(m.cost_max),
            "time_kind": "lower bound", "windows": len(counts),
            "note": (f"static RAM and stack: the detector alone in the firmware harness on QEMU "
                     f"(mps2-an386), over the empty harness; the board's Arduino core comes "
                     f"on top (not measured). Time: QEMU counts {m.cost:,.0f} instructions per "
                     f"window (mean of {len(counts)}, max {m.cost_max:,.0f}), shown at one "
                     f"instruction per cycle at 64 MHz: a lower bound, not a measured time "
                     f"(loads, branches, float divides and flash wait states take more "
                     f"cycles).")})
    boards.append({
        "board": "esp32", "title": "ESP32 (240 MHz, 520 KB SRAM)", "ram": ESP32_SRAM,
        "static_ram": None, "stack": None, "free": None,
        "fits": {k: True for k in ring}, "compute_ms": None, "time_kind": "not measured",
        "note": ("not compiled here (no Xtensa toolchain offline). The same C on the 32-bit "
                 "Cortex-M4 needs "
                 + ("" if m4 is None else
                    f"{m4.measurement.static_ram + m4.measurement.stack:,} B (static + stack); ")
                 + f"with a {ring['3 axes']:,} B buffer that is under 1 % of the ESP32's "
                 "520 KB SRAM (datasheet; the Arduino core and Wi-Fi use part of it). The "
                 "us that Wokwi's simulated ESP32 prints were never compared with a real "
                 "board here, so they are not taken as an ESP32's time.")})
    return {
        "what": "RAM and compute time a live accelerometer would need beside lesson 07's "
                "detector, per board",
        "command": fan_detector.BUDGET_COMMAND,
        "detector": {"from": where,
                     "tflite_sha256": hashlib.sha256(detector.tflite).hexdigest(),
                     "threshold": detector.threshold},
        "window": {"samples": samples, "axes": AXES, "sample_rate_hz": detector.sample_rate,
                   "bytes_per_sample": 2},
        "ring_buffer": ring,
        "boards": boards,
    }


def main(argv: list[str]) -> int:
    """Check, measure and print both tables; return 1 if a check failed."""
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, default=None)
    parser.add_argument("--uno-step", type=int, default=UNO_STEP,
                        help="check every N-th test window on the Uno (1: all, about 4 minutes)")
    parser.add_argument("--write", action="store_true",
                        help=f"store the live-sensor budget in {fan_detector.LIVE_BUDGET.name}")
    args = parser.parse_args(argv)
    if args.uno_step < 1:
        parser.error(f"--uno-step must be >= 1, got {args.uno_step}")
    detector, where = _load(args.source)
    data = fan_recordings.split(fan_recordings.load())
    counts = fan_detector.to_counts(data.x_test)
    labels = [(str(s), bool(y)) for s, y in zip(data.speed_test, data.y_test, strict=True)]
    ref = fan_detector.reference(detector, fan_detector.from_counts(counts))
    ae_files = export.plain_c_files(detector.model, fan_detector.AE_PREFIX)
    expected = tflm.run(detector.tflite, ref.codes_in)
    print(f"detector: {where}; {len(counts)} real test windows (fan_recordings.split: the last "
          f"30 % of every recording, {int(data.y_test.sum())} with the coin)\n")
    table = Table([("board", 5), ("what", 26), ("windows", 15), ("flash B", 7), ("RAM B", 6),
                   ("stack B", 7), ("cost per window", 28), ("time", 18),
                   ("features", 11), ("codes", 6)])
    failed, skipped, notes = False, [], []
    uno = shipped = m4 = None
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for target in ("uno", "m4", "host"):
            if firmware.missing_tools(target):
                skipped.append(f"{target}: {firmware.install_hint(target)}")
                continue
            m = firmware.measure(target, ae_files, ref.codes_in, build_dir=tmp / f"ae_{target}")
            same = np.array_equal(m.result.outputs, expected)
            failed |= not same
            cost = "—" if m.cost is None else f"{m.cost:,.0f} {m.unit}"
            when = "—" if m.microseconds is None else f"{m.microseconds:,.0f} µs" + (
                " (≥)" if target == "m4" else "")
            table.row(target, "int8 autoencoder", f"{len(counts)} (all)", f"{m.flash:,}",
                      *_ram(target, m), cost, when, *_ok(None, same))
            if target == "uno":
                if any(not toolchains.have(t) for t in fan_detector.UNO_TOOLS):
                    skipped.append("uno sketch: " + toolchains.install_command(
                        toolchains.UNO_PACKAGES))
                    continue
                pick = np.arange(0, len(counts), args.uno_step)
                uno = fan_detector.run_uno(detector, counts[pick], [labels[i] for i in pick],
                                           build_dir=tmp / "uno_check")
                close, same, note = _checks(detector, uno.stages, _subset(ref, pick))
                failed |= not (close and same)
                notes.append(f"uno ({len(pick)} windows, {uno.builds} builds, "
                             f"{uno.seconds:.0f} s): {note}")
                which = "all" if args.uno_step == 1 else f"every {args.uno_step}th"
                table.row("uno", "whole sketch (check build)", f"{len(pick)} ({which})",
                          f"{uno.flash:,}", f"{uno.static_ram:,}", f"{uno.stack:,}",
                          f"{uno.microseconds.mean() * 16:,.0f} cycles",
                          f"{uno.microseconds.mean() / 1000:,.0f} ms", *_ok(close, same))
                shipped, rows = _shipped_sketch(detector, tmp)
                samples, _ = fan_detector.sample_windows()
                sample_ref = fan_detector.reference(detector, fan_detector.from_counts(samples))
                scores = np.array([float(r["score"]) for r in rows])
                ok = len(rows) == len(samples) and np.allclose(scores, sample_ref.score,
                                                               rtol=1e-3, atol=2e-4)
                failed |= not ok
                us = np.array([int(r["us"]) for r in rows])
                table.row("uno", "whole sketch as shipped", f"{len(samples)} (stored)",
                          f"{shipped['flash']:,}", f"{shipped['ram']:,}", "—",
                          f"{us.mean() * 16:,.0f} cycles", f"{us.mean() / 1000:,.0f} ms",
                          "scores ≈ ref" if ok else "DIFFER", "—")
                continue
            run = fan_detector.run_c(detector, counts, target, build_dir=tmp / f"fan_{target}")
            close, same, note = _checks(detector, run.stages, ref)
            failed |= not (close and same)
            notes.append(f"{target} ({len(counts)} windows): {note}")
            mm = run.measurement
            cost = "—" if mm.cost is None else f"{mm.cost:,.0f} {mm.unit}"
            when = "—" if mm.microseconds is None else \
                f"≥ {mm.microseconds / 1000:,.2f} ms (bound)"
            table.row(target, "whole detector", f"{len(counts)} (all)", f"{mm.flash:,}",
                      *_ram(target, mm), cost, when, *_ok(close, same))
            if target == "m4":
                m4 = run
    print("\nflash/RAM: over the empty harness (RAM = static + stack), or for the Uno sketch the "
          "whole sketch with the Arduino core and Serial (RAM = static, avr-size; the stored "
          "windows stay in flash). features: within FEATURE_RTOL/ATOL of NumPy on every window; "
          "codes: the autoencoder's output codes equal to TFLM's on the codes the C fed in.")
    print("uno: autoencoder cycles by Timer1 (exact); sketch time by micros() in simavr "
          "(4 µs steps) at 16 MHz, cycles = µs × 16. The check build stores 16 windows per "
          f"build (1,200 B each in flash); --uno-step {args.uno_step} checks "
          f"{len(range(0, len(counts), args.uno_step))} of {len(counts)} windows.")
    print(f"m4: QEMU instructions; time {firmware.M4_CLOCK_NOTE}: a lower bound (≥), not a "
          "measured time. host: gcc -O2, not timed.")
    for line in notes:
        print(line)
    for line in skipped:
        print(f"skipped {line}")

    record = _budget(detector, where, uno, shipped, m4, counts)
    print("\nLive-sensor budget: one second of samples (200 x 3 axes, int16) beside the "
          "detector\n")
    print(fan_detector.budget_table(record))
    if args.write:
        if uno is None or m4 is None:
            print("\nnot written: the budget needs the Uno and the Cortex-M4 measured")
            failed = True
        elif failed:
            print("\nnot written: a check failed")
        else:
            write_atomic(fan_detector.LIVE_BUDGET, json.dumps(record, indent=1) + "\n")
            print(f"\nwrote {fan_detector.LIVE_BUDGET.relative_to(ROOT)}")
    print(f"\nrun time: {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


def _subset(ref: fan_detector.Stages, pick: np.ndarray) -> fan_detector.Stages:
    """Return the reference stages of the windows ``pick``."""
    return fan_detector.Stages(ref.features[pick], ref.codes_in[pick], ref.codes_out[pick],
                               ref.score[pick], ref.anomaly[pick])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
