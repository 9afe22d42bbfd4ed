"""The ESP32's TensorFlow Lite Micro computes with ESP-NN's kernels, not the reference ones the
course's other tests build: does it print the same numbers?

For esp-tflite-micro 1.3.3 (with esp-nn 1.1.0) and 1.4.0 (with esp-nn 1.1.2), each with the
reference FULLY_CONNECTED kernel and with ESP-NN's (esp-nn's portable C, what a classic ESP32
runs), built from ../shared/vendor (tooling/paths.py) by tinyml_helpers.deploy.esp_nn, this
runs the course's two int8 sine models over all 256 input codes and counts the outputs equal to
the TFLM Python runtime: the per-channel model of the plain-C projects (``sine_int8.tflite``)
and the per-tensor one the TFLM sketch runs (``sine_int8_per_tensor.tflite``). It does so on
this PC and on the Cortex-M4F (QEMU), then bisects the TFLM sketch model's smallest arena on the
M4 in every build and adds the margin the sketch keeps (``esp_nn.arena_plan``). Last, it builds
the hello_world_tflm sketch itself (with the Arduino stand-in, on this PC) in every build, once
with each model, and keeps the self-test line it prints at boot.

Run: ``.venv/bin/python benchmarks/esp32_tflm_kernels.py [--models DIR] [--write]``. The
models come from DIR (default: the lesson's export, build/export, if it holds them, else the
committed arduino/ projects; the float model is needed to write the sketch). The first run
builds six TFLM libraries (about 3 minutes on two cores, cached in build/tflm). ``--write``
stores the result in tinyml_helpers/measured/esp32_tflm.json: lesson 06 prints it and the
build writes its arena into the TFLM sketch's model.h (tests/test_esp32_kernels.py checks it
against a fresh run).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tinyml_helpers import measurements, sine_projects
from tinyml_helpers.deploy import dense, esp_nn, files, firmware
from tinyml_helpers.deploy import projects as deploy_projects
from tinyml_helpers.tooling import paths as course_paths

ROOT = course_paths.REPO
VENDOR = course_paths.esp_vendor()  # ../shared/vendor, built into build/tflm


NAMES = (sine_projects.FLOAT_NAME, sine_projects.INT8_NAME, sine_projects.TFLM_NAME)


def find_models(folder: Path | None) -> dict[str, Path]:
    """Return {file name: path} of the float, per-channel and per-tensor sine models."""
    if folder:
        missing = [n for n in NAMES if not (folder / n).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} does not hold {', '.join(missing)}")
        return {n: folder / n for n in NAMES}
    export = course_paths.BUILD_DIR / "export"
    if all((export / n).is_file() for n in NAMES):
        return {n: export / n for n in NAMES}
    plain, tflm = course_paths.ARDUINO_DIR / "hello_world_plain", course_paths.SKETCH_DIR
    return {sine_projects.FLOAT_NAME: plain / sine_projects.FLOAT_NAME,
            sine_projects.INT8_NAME: plain / sine_projects.INT8_NAME,
            sine_projects.TFLM_NAME: tflm / sine_projects.TFLM_NAME}


def sketch_folder(float_tflite: bytes, model: bytes, arena: int, folder: Path) -> Path:
    """Write the hello_world_tflm sketch running ``model`` into ``folder``; return it. The
    per-channel model is written on purpose here (Models built directly, not through
    sine_projects.load_models, which refuses it): to see what a student's board would print."""
    models = sine_projects.Models(float_tflite, model, dense.float_layers_from_tflite(float_tflite),
                                  dense.int8_layers(model), arena, tflm_graph=model)
    folder.mkdir(parents=True)
    sketches = deploy_projects.by_folder(sine_projects.arduino_projects(models))
    files.write_files(folder, sketches["hello_world_tflm"])
    return folder


def self_test_lines(models: dict[str, bytes], arena: int, tmp: Path) -> dict:
    """Return {build: {model: the sketch's self-test lines}} of the sketch on this PC."""
    out = {}
    for build in esp_nn.BUILDS:
        label = f"{build.tflm} {build.kernel}"
        out[label] = {}
        for name in (sine_projects.INT8_NAME, sine_projects.TFLM_NAME):
            folder = sketch_folder(models[sine_projects.FLOAT_NAME], models[name], arena,
                                   tmp / "sketch" / label.replace(" ", "_") / name / "s")
            run = esp_nn.sketch_run(folder, build, "host", folder.parent / "build",
                                    tflite=models[name], arena_size=arena, vendor=VENDOR)
            out[label][Path(name).stem] = [line for line in run.lines
                                           if line.startswith("self-test:")]
    return out


def main(argv: list[str]) -> int:
    """Measure and print the tables; return 1 if something is missing or a build is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, help="folder with both .tflite files")
    parser.add_argument("--write", action="store_true",
                        help=f"store the result in {measurements.ESP32_TFLM}")
    args = parser.parse_args(argv)
    for target in ("host", "m4"):
        reason = esp_nn.unavailable(target, VENDOR)
        if reason:
            print(f"cannot measure: {reason}", file=sys.stderr)
            return 1
    paths = find_models(args.models)
    models = {name: path.read_bytes() for name, path in paths.items()}
    int8_models = {Path(n).stem: models[n]
                   for n in (sine_projects.INT8_NAME, sine_projects.TFLM_NAME)}
    print("models: " + ", ".join(f"{p.relative_to(ROOT) if p.is_relative_to(ROOT) else p} "
                                 f"({len(models[n]):,} B)" for n, p in paths.items()))
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="esp32-kernels-") as tmp:
            tables = {target: esp_nn.kernel_table(int8_models, Path(tmp) / target, target,
                                                  vendor=VENDOR)
                      for target in ("host", "m4")}
            plan = esp_nn.arena_plan(models[sine_projects.TFLM_NAME], Path(tmp) / "arena",
                                     vendor=VENDOR)
            checks = self_test_lines(models, plan.size * 4, Path(tmp))  # 64-bit PC: ample
    except firmware.FirmwareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for target, rows in tables.items():
        print(f"\n{esp_nn.table_record(rows, target)['target']}: outputs equal to the TFLM "
              "runtime, of all input codes\n")
        print(esp_nn.table_markdown(esp_nn.table_record(rows, target)))
    print(f"\nTFLM sketch model ({sine_projects.TFLM_NAME}): smallest arena on the Cortex-M4F")
    for name, size in plan.minima.items():
        print(f"  {name:<34} {size:,} B ({plan.used[name]:,} B used)")
    print(f"  the sketch declares {plan.size:,} B: {plan.note}")
    print("\nThe TFLM sketch's self-test at boot (this PC):")
    for label, by_model in checks.items():
        for name, lines in by_model.items():
            print(f"  {label:<28} {name:<22} " + " / ".join(lines))
    print(f"({time.perf_counter() - started:.0f} s)")
    record = {"models": {Path(name).stem: {"file": name, "bytes": len(models[name])}
                         for name in paths},
              "tables": {t: esp_nn.table_record(rows, t) for t, rows in tables.items()},
              "arena": {"minima": plan.minima, "used": plan.used, "size": plan.size,
                        "margin": esp_nn.ARENA_MARGIN, "note": plan.note},
              "self_test": checks}
    if args.write:
        text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
        files.write_files(measurements.FOLDER, {measurements.ESP32_TFLM.name: text})
        print(f"wrote {measurements.ESP32_TFLM}")
    pt = Path(sine_projects.TFLM_NAME).stem
    return 0 if all(r.equal[pt] == r.cases[pt] for rows in tables.values() for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
