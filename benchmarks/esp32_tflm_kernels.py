"""The ESP32's TensorFlow Lite Micro computes with ESP-NN's kernels, not the reference ones the
course's other tests build: does it print the same numbers?

For esp-tflite-micro 1.3.3 (with esp-nn 1.1.0) and 1.4.0 (with esp-nn 1.1.2), each with the
reference FULLY_CONNECTED kernel and with ESP-NN's (esp-nn's portable C, what a classic ESP32
runs), built from ../shared/vendor by tinyml_helpers.deploy.esp_nn, this runs the course's two
int8 sine models over all 256 input codes and counts the outputs equal to the TFLM Python
runtime: the per-channel model of the plain-C projects (``sine_int8.tflite``) and the
per-tensor one the TFLM sketch runs (``sine_int8_per_tensor.tflite``). It does so on this PC
and on the Cortex-M4F (QEMU), then bisects the TFLM sketch model's smallest arena on the M4 in
every build and adds the margin the sketch keeps (``esp_nn.arena_plan``).

Run: ``.venv/bin/python benchmarks/esp32_tflm_kernels.py [--models DIR] [--write]``. The models
come from DIR (default: the lesson's export, build/export, if it holds both, else the
committed arduino/ projects). The first run builds six TFLM libraries (about 3 minutes on two
cores, cached in build/tflm). ``--write`` stores the result in
tinyml_helpers/measured/esp32_tflm.json: lesson 06 prints it and the build writes its arena into
the TFLM sketch's model.h (tests/test_esp32_kernels.py checks it against a fresh run).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tinyml_helpers import measurements
from tinyml_helpers.deploy import esp_nn, files, firmware, projects

ROOT = Path(__file__).resolve().parents[1]


def find_models(folder: Path | None) -> dict[str, Path]:
    """Return {name: path} of the per-channel and per-tensor int8 sine models."""
    names = (projects.INT8_NAME, projects.TFLM_NAME)
    candidates = [folder] if folder else [ROOT / "build" / "export"]
    for candidate in candidates:
        if candidate and all((candidate / n).is_file() for n in names):
            return {Path(n).stem: candidate / n for n in names}
    if folder:
        raise FileNotFoundError(f"{folder} does not hold {' and '.join(names)}")
    return {Path(projects.INT8_NAME).stem: ROOT / "arduino/hello_world_plain" / projects.INT8_NAME,
            Path(projects.TFLM_NAME).stem: ROOT / "arduino/hello_world_tflm" / projects.TFLM_NAME}


def main(argv: list[str]) -> int:
    """Measure and print the tables; return 1 if something is missing or a build is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, help="folder with both .tflite files")
    parser.add_argument("--write", action="store_true",
                        help=f"store the result in {measurements.ESP32_TFLM}")
    args = parser.parse_args(argv)
    for target in ("host", "m4"):
        reason = esp_nn.unavailable(target)
        if reason:
            print(f"cannot measure: {reason}", file=sys.stderr)
            return 1
    paths = find_models(args.models)
    models = {name: path.read_bytes() for name, path in paths.items()}
    print("models: " + ", ".join(f"{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p} "
                                 f"({len(models[n]):,} B)" for n, p in paths.items()))
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="esp32-kernels-") as tmp:
            tables = {target: esp_nn.kernel_table(models, Path(tmp) / target, target)
                      for target in ("host", "m4")}
            plan = esp_nn.arena_plan(models[Path(projects.TFLM_NAME).stem], Path(tmp) / "arena")
    except firmware.FirmwareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for target, rows in tables.items():
        print(f"\n{esp_nn.table_record(rows, target)['target']}: outputs equal to the TFLM "
              "runtime, of all input codes\n")
        print(esp_nn.table_markdown(rows))
    print(f"\nTFLM sketch model ({projects.TFLM_NAME}): smallest arena on the Cortex-M4F")
    for name, size in plan.minima.items():
        print(f"  {name:<34} {size:,} B ({plan.used[name]:,} B used)")
    print(f"  the sketch declares {plan.size:,} B: {plan.note}")
    print(f"({time.perf_counter() - started:.0f} s)")
    record = {"models": {name: {"file": path.name, "bytes": len(models[name])}
                         for name, path in paths.items()},
              "tables": {t: esp_nn.table_record(rows, t) for t, rows in tables.items()},
              "arena": {"minima": plan.minima, "used": plan.used, "size": plan.size,
                        "margin": esp_nn.ARENA_MARGIN, "note": plan.note}}
    if args.write:
        text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
        files.write_files(measurements.FOLDER, {measurements.ESP32_TFLM.name: text})
        print(f"wrote {measurements.ESP32_TFLM}")
    pt = Path(projects.TFLM_NAME).stem
    return 0 if all(r.equal[pt] == r.cases for rows in tables.values() for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
