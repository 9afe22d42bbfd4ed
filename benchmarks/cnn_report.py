"""Flash, RAM, stack and time of small int8 CNNs as library-free C on each simulated board.

The two whole CNNs of the operator table in tests/test_ops.py (an 8x8x1 image:
Conv2D-MaxPool-DepthwiseConv2D-AveragePool-Dense-Softmax; a 12x10x2 one with strides, a 1x1
convolution and two Dense layers) are converted to full int8 and written by
``export.plain_c_files`` (which sends them through ``graph_c`` and the reference kernels of
``deploy/c/tinyml_ops.c``). Each runs in the firmware harness on the Uno (simavr, cycles), the
Cortex-M4F (QEMU, instructions) and this PC (callgrind, when installed), on random input
images; every output code is compared with the TFLM runtime's. Flash and static RAM are over
the empty harness, as in benchmarks/firmware_report.py; the activation buffers are static RAM
here (the Dense chain keeps its two buffers on the stack).

Run: ``.venv/bin/python benchmarks/cnn_report.py [--rows 24]`` (about a minute). Nothing is
written to the repository.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_ops  # noqa: E402  (the case table lives with the tests that assert it)

from tinyml_helpers.deploy import env, export, firmware, graph, tflm  # noqa: E402

TARGETS = ("uno", "m4", "host")
CNN_NAMES = [case.name for case in test_ops.CASES if case.op == "CNN"]


def measure(n_rows: int) -> list[dict]:
    """Return one record per (CNN, target): sizes, cost and how many rows equal TFLM's."""
    tf = env.setup(0)
    records = []
    with tempfile.TemporaryDirectory(prefix="cnn-report-") as tmp:
        for name in CNN_NAMES:
            index = next(i for i, c in enumerate(test_ops.CASES) if c.name == name)
            g = graph.read(test_ops.models(test_ops.CASES[index], index, tf)["int8"])
            model = export.plain_c_files(g, "cnn")
            rows = test_ops.random_inputs(g, n_rows, seed=4000 + index).reshape(n_rows, -1)
            want = tflm.run(g, rows).reshape(n_rows, -1)
            for target in TARGETS:
                if firmware.missing_tools(target):
                    print(f"skipped {target}: {firmware.install_hint(target)}", file=sys.stderr)
                    continue
                start = time.perf_counter()
                m = firmware.measure(target, model, rows, build_dir=Path(tmp) / f"{index}{target}",
                                     host_cost=target == "host" and shutil.which("valgrind")
                                     is not None)
                got = m.result.outputs.reshape(n_rows, -1)
                records.append({
                    "model": name, "target": target, "inputs": model.n_inputs,
                    "outputs": model.n_outputs, "constants": model.constant_bytes,
                    "activations": model.activation_bytes, "flash": m.flash,
                    "static_ram": m.static_ram, "stack": m.stack, "cost": m.cost,
                    "cost_max": m.cost_max, "unit": m.unit, "us": m.microseconds,
                    "equal": int(np.all(got == want, axis=1).sum()), "rows": n_rows,
                    "seconds": time.perf_counter() - start})
    return records


def markdown(records: list[dict]) -> str:
    """Return the records as a Markdown table."""
    lines = ["| model | target | flash B | static RAM B | stack B | per inference | µs | "
             "rows = TFLM |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        cost = "—" if r["cost"] is None else f"{r['cost']:,.0f} {r['unit']}"
        us = "—" if r["us"] is None else (f"≈{r['us']:,.0f}" if r["target"] == "m4"
                                          else f"{r['us']:,.0f}")
        lines.append(f"| {r['model'].removeprefix('CNN ')} | {r['target']} | {r['flash']:,} | "
                     f"{r['static_ram']:,} | {r['stack']:,} | {cost} | {us} | "
                     f"{r['equal']}/{r['rows']} |")
    return "\n".join(lines)


def main() -> None:
    """Print the table and the models' own sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=24, help="random input images per model")
    args = parser.parse_args()
    start = time.perf_counter()
    records = measure(args.rows)
    print(markdown(records))
    seen = {}
    for r in records:
        seen.setdefault(r["model"], r)
    for name, r in seen.items():
        print(f"{name}: {r['inputs']} input codes, {r['outputs']} outputs, "
              f"{r['constants']:,} B of weights, biases and requantization constants, "
              f"{r['activations']:,} B of activation buffers")
    print("flash and static RAM: over the same harness without the model; stack: the deepest "
          "one inference reached (painted). uno: cycles (Timer1), µs at 16 MHz; m4: QEMU "
          f"instructions, µs {firmware.M4_CLOCK_NOTE}; host: callgrind instructions.")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
