"""Print what lesson 07's anomaly detector costs in C on each simulated board, and check it.

Rows: the int8 autoencoder alone (the firmware harness, every test window's codes) and the
whole detector per window (features + scaling + autoencoder + threshold). Cortex-M4 (QEMU)
and this PC run the harness; the Uno runs the real ``arduino/fan_anomaly`` sketch, compiled
with arduino-builder and run in simavr, since its 2 KB of RAM cannot hold the harness's
600-float window (the sketch reads the window from flash one axis at a time).

Checks: autoencoder outputs equal to the TFLM runtime; detector features within
fan_detector.FEATURE_RTOL of NumPy, output codes equal to TFLM on the codes the C fed in,
verdicts equal to the reference; Uno sketch scores within 1e-3 of the reference.

Run: ``.venv/bin/python benchmarks/fan_detector_report.py [--from build/export]`` (default: the
detector lesson 07 exported; falls back to the committed arduino/fan_anomaly).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from tinyml_helpers import fan_detector, vibration
from tinyml_helpers.deploy import export, files, firmware, tflm, toolchains

ROOT = Path(__file__).resolve().parents[1]


def _load(source: Path | None) -> tuple[fan_detector.Detector, str]:
    for folder in ([source] if source else [ROOT / "build/export", ROOT / "arduino/fan_anomaly"]):
        if (folder / fan_detector.JSON_NAME).is_file():
            return fan_detector.load(folder), str(folder)
    raise SystemExit(f"no {fan_detector.JSON_NAME} found; run `make build` first")


def _uno_sketch(detector: fan_detector.Detector, tmp: Path):
    """Compile the fan sketch for the Uno, run one pass in simavr; return (sizes, rows)."""
    arduino = next(p for p in fan_detector.projects(detector) if p.tree == "arduino")
    sketch = tmp / arduino.folder
    files.write_files(sketch, {k: v for k, v in arduino.files.items() if isinstance(v, str)})
    elf = toolchains.compile_uno(sketch, tmp / "uno_build",
                                 {"TINYML_DELAY_MS": 0, "TINYML_PASSES": 1})
    rows = [dict(kv.split("=") for kv in line.split(", "))
            for line in toolchains.run_uno(elf, timeout_s=300) if line.startswith("window=")]
    return toolchains.avr_size(elf), rows


def main(argv: list[str]) -> int:
    """Measure and print the table; return 1 if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", type=Path, default=None)
    args = parser.parse_args(argv)
    detector, where = _load(args.source)
    data = vibration.dataset(150, 40, seed=0)  # lesson 07's test windows (fixed mount)
    counts = fan_detector.to_counts(data.x_test)
    ref = fan_detector.reference(detector, fan_detector.from_counts(counts))
    ae_files = export.plain_c_files(detector.model, fan_detector.AE_PREFIX)
    expected = tflm.run(detector.tflite, ref.codes_in)
    print(f"detector: {where}; {len(counts)} test windows of lesson 07 (fixed mount)\n")
    header = (f"| {'board':<5} | {'what':<23} | {'flash B':>7} | {'RAM B':>6} | {'stack B':>7} | "
              f"{'cost per window':>28} | {'time':>9} | {'check':<15} |")
    print(header)
    print("|" + "|".join("-" * (len(c) + 0) for c in header.split("|")[1:-1]) + "|")
    failed, skipped, notes = False, [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for target in ("uno", "m4", "host"):
            if firmware.missing_tools(target):
                skipped.append(f"{target}: {firmware.install_hint(target)}")
                continue
            m = firmware.measure(target, ae_files, ref.codes_in, build_dir=tmp / f"ae_{target}")
            ok = np.array_equal(m.result.outputs, expected)
            failed |= not ok
            cost = "—" if m.cost is None else f"{m.cost:,.0f} {m.unit}"
            time = "—" if m.microseconds is None else f"{m.microseconds:,.0f} µs"
            print(f"| {target:<5} | {'int8 autoencoder':<23} | {m.flash:>7,} | "
                  f"{m.static_ram + m.stack:>6,} | {m.stack:>7,} | {cost:>28} | {time:>9} | "
                  f"{'= TFLM' if ok else 'DIFFERS':<15} |")
            if target == "uno":
                if not (toolchains.have("arduino-builder") and toolchains.have("simavr")):
                    skipped.append("uno sketch: " + toolchains.install_command())
                    continue
                sizes, rows = _uno_sketch(detector, tmp)
                samples, _ = fan_detector.sample_windows()
                sample_ref = fan_detector.reference(detector, fan_detector.from_counts(samples))
                scores = np.array([float(r["score"]) for r in rows])
                ok = len(rows) == len(samples) and np.allclose(scores, sample_ref.score,
                                                               rtol=1e-3, atol=2e-4)
                failed |= not ok
                us = np.array([int(r["us"]) for r in rows])
                print(f"| uno   | {'whole sketch, 7 windows':<23} | {sizes['flash']:>7,} | "
                      f"{sizes['ram']:>6,} | {'—':>7} | {f'{us.mean() * 16:,.0f} cycles':>28} | "
                      f"{f'{us.mean() / 1000:,.0f} ms':>9} | "
                      f"{'≈ reference' if ok else 'DIFFERS':<15} |")
                continue
            c = fan_detector.run_c(detector, counts, target, build_dir=tmp / f"fan_{target}")
            s, mm = c.stages, c.measurement
            ok = (np.allclose(s.features, ref.features, rtol=fan_detector.FEATURE_RTOL,
                              atol=fan_detector.FEATURE_ATOL)
                  and np.array_equal(s.codes_out, tflm.run(detector.tflite, s.codes_in))
                  and np.array_equal(s.anomaly, ref.anomaly))
            failed |= not ok
            gap = np.abs(s.features - ref.features) / np.maximum(np.abs(ref.features), 1e-6)
            mad_same = np.array_equal(s.features[:, 3:6], ref.features[:, 3:6])
            notes.append(f"{target}: features within {gap.max():.1e} (relative) of NumPy, MAD "
                         f"{'identical' if mad_same else 'DIFFERS'}; "
                         f"input codes equal to NumPy's {np.mean(s.codes_in == ref.codes_in):.2%}; "
                         f"verdicts equal {np.mean(s.anomaly == ref.anomaly):.1%}")
            cost = "—" if mm.cost is None else f"{mm.cost:,.0f} {mm.unit}"
            time = "—" if mm.microseconds is None else f"{mm.microseconds / 1000:,.1f} ms"
            print(f"| {target:<5} | {'whole detector':<23} | {mm.flash:>7,} | "
                  f"{mm.static_ram + mm.stack:>6,} | {mm.stack:>7,} | {cost:>28} | {time:>9} | "
                  f"{'≈ NumPy, = TFLM' if ok else 'DIFFERS':<15} |")
    print("\nflash/RAM: over the empty harness (autoencoder, whole detector; RAM = static + "
          "stack) or, for the Uno sketch, the whole sketch with the Arduino core, Serial and the "
          "7 stored windows (RAM = static only, avr-size).")
    print("uno: autoencoder cycles by Timer1 (exact); sketch time by micros() (4 µs steps) "
          "at 16 MHz, cycles = µs × 16.")
    print(f"m4: QEMU instructions; time {firmware.M4_CLOCK_NOTE}. host: gcc -O2, not timed.")
    for line in notes:
        print(line)
    for line in skipped:
        print(f"skipped {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
