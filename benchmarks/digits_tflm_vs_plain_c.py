"""TFLM or plain C for lesson 08's int8 CNN, like with like, on the same simulated Cortex-M4F.

Four implementations of the same .tflite run inside the same firmware harness
(tinyml_helpers/deploy/harness/harness.c) on QEMU's Cortex-M4F (``-icount``: one instruction,
one tick) over lesson 08's test images:

- TFLM with its reference kernels (esp-tflite-micro 1.4.0, what the arduino-esp32 core ships)
  against the course's plain-C reference kernels (``export.plain_c_files(..., kernels=
  "reference")``: TFLM's reference loops, loop for loop, in C): reference against reference;
- TFLM with Arm's CMSIS-NN kernels (``deploy/cmsis_nn``: TFLM's kernels/cmsis_nn glue and
  CMSIS-NN, the DSP paths of the M4) against the course's fast plain-C kernels
  (``kernels="fast"``): optimized against optimized.

For each: flash and static RAM over the empty harness, the tensor arena (the smallest that runs,
bisected: one byte less fails), the stack of one inference, instructions per inference (mean over
the images), TFLM's one-time set-up (GetModel, resolver, interpreter, AllocateTensors), and
whether every image's output codes equal the TFLM Python runtime's. The two plain-C builds also
run on the simulated Uno (cycles); TFLM does not: its library alone is larger than the Uno's
32 KB of flash, and it needs a 32-bit C++ toolchain the Uno's core does not provide.

Run: ``.venv/bin/python benchmarks/digits_tflm_vs_plain_c.py [--model F.tflite] [--images N]
[--write]``. The model defaults to the one lesson 08 exported for its projects
(arduino/digits_cnn/). The first run builds the TFLM libraries (a few minutes on two cores,
cached in build/tflm). ``--write`` stores the result in
tinyml_helpers/measured/digits_tflm_vs_plain_c.json, which lesson 08 prints.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tinyml_helpers import digits, digits_projects, measurements
from tinyml_helpers.deploy import cmsis_nn, export, firmware, graph, tflm, tflm_build
from tinyml_helpers.deploy.files import write_atomic
from tinyml_helpers.tooling import paths

DEFAULT_MODEL = paths.ARDUINO_DIR / digits_projects.ARDUINO_FOLDER / digits_projects.EXPORT_NAME


def measure(tflite: bytes, images: int) -> dict:
    """Return the four M4 implementations and the two Uno plain-C builds as one record."""
    g = graph.read(tflite)
    codes = digits.input_codes(g, digits.load(0).x_test[:images])
    vendor = cmsis_nn.Vendor(paths.VENDOR_DIR, paths.TFLM_CACHE)
    reason = cmsis_nn.unavailable("m4", vendor)
    if reason:
        raise tflm_build.TflmUnavailable(reason)
    rows = []
    with tempfile.TemporaryDirectory(prefix="digits-four-way-") as tmp:
        tmp = Path(tmp)
        for label, kernels, make in (
                ("TFLM", "reference", lambda: tflm_build.tflm_implementation(
                    g, codes, tmp / "tflm", src=paths.tflm_source(), name="TFLM")),
                ("plain C", "reference", lambda: tflm_build.plain_implementation(
                    export.plain_c_files(g, "digits", kernels="reference"), codes,
                    tmp / "plain-ref", tflite=g, name="plain C")),
                ("TFLM", "CMSIS-NN", lambda: tflm_build.tflm_implementation(
                    g, codes, tmp / "cmsis", src=cmsis_nn.tflm_source(vendor),
                    swap=cmsis_nn.swap_for(g, vendor), name="TFLM + CMSIS-NN")),
                ("plain C", "fast", lambda: tflm_build.plain_implementation(
                    export.plain_c_files(g, "digits", kernels="fast"), codes,
                    tmp / "plain-fast", tflite=g, name="plain C fast"))):
            start = time.perf_counter()
            impl = make()
            row = dataclasses.asdict(impl)
            row.update(framework=label, kernels=kernels, ram=impl.ram,
                       seconds=round(time.perf_counter() - start, 1))
            rows.append(row)
            print(f"{label} ({kernels}): {time.perf_counter() - start:.0f} s", file=sys.stderr,
                  flush=True)
        uno = []
        want = np.asarray(tflm.run(g, codes)).reshape(len(codes), -1)
        for kernels in ("reference", "fast"):
            outputs, m = digits.board_outputs(g, codes, "uno", kernels, tmp / f"uno-{kernels}")
            uno.append({"kernels": kernels, "flash": m.flash, "static_ram": m.static_ram,
                        "stack": m.stack, "cycles": float(m.cost),
                        "equal_rows": int(np.all(outputs == want, axis=1).sum()),
                        "cases": len(codes)})
    return {"model_bytes": len(g.data), "model_sha256": hashlib.sha256(g.data).hexdigest(),
            "images": len(codes), "rows": rows, "uno": uno,
            "tflm_source": paths.tflm_source().label}


def table(record: dict) -> str:
    """Return the M4 rows and the Uno rows as Markdown."""
    lines = ["| on the Cortex-M4F | kernels | flash B | static RAM B | arena B | stack B | "
             "RAM B in all | instructions / image | set-up instructions | images = TFLM |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in record["rows"]:
        lines.append(f"| {r['framework']} | {r['kernels']} | {r['flash']:,} | "
                     f"{r['static_ram']:,} | {r['arena']:,} | {r['stack']:,} | {r['ram']:,} | "
                     f"{r['instructions']:,.0f} | {r['setup_instructions']:,} | "
                     f"{r['equal_rows']}/{r['cases']} |")
    lines += ["", "| on the Uno (plain C only) | kernels | flash B | static RAM B | stack B | "
              "cycles / image | images = TFLM |", "|---|---|---:|---:|---:|---:|---:|"]
    for u in record["uno"]:
        lines.append(f"| plain C | {u['kernels']} | {u['flash']:,} | {u['static_ram']:,} | "
                     f"{u['stack']:,} | {u['cycles']:,.0f} | {u['equal_rows']}/{u['cases']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Measure, print the tables, optionally store them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the int8 .tflite")
    parser.add_argument("--images", type=int, default=360, help="test images run")
    parser.add_argument("--write", action="store_true",
                        help=f"store the result in {measurements.DIGITS_TFLM_VS_PLAIN_C}")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"{args.model} is missing: run lesson 08 (make build) first", file=sys.stderr)
        return 1
    start = time.perf_counter()
    try:
        record = measure(args.model.read_bytes(), args.images)
    except tflm_build.TflmUnavailable as exc:
        print(f"cannot measure: {exc}", file=sys.stderr)
        return 1
    record["table"] = table(record)
    print(record["table"])
    print(f"\n{record['images']} test images of lesson 08; model {record['model_bytes']:,} B "
          f"(.tflite). Flash and static RAM over the same harness without the model; arena: the "
          "smallest that runs; stack: the deepest one inference reached; M4: QEMU instructions "
          f"({firmware.M4_CLOCK_NOTE}), Uno: simavr cycles at 16 MHz. TFLM: "
          f"{record['tflm_source']}.")
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.write:
        write_atomic(measurements.DIGITS_TFLM_VS_PLAIN_C, json.dumps(record, indent=1) + "\n")
        print(f"wrote {measurements.DIGITS_TFLM_VS_PLAIN_C}")
    bad = [r for r in record["rows"] if not r["outputs_equal_tflm"]]
    bad += [u for u in record["uno"] if u["equal_rows"] != u["cases"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
