"""Flash, RAM, stack and time of small int8 CNNs as library-free C on each simulated board,
over the reference kernels and over the fast ones, side by side.

The two whole CNNs of the operator table in tests/test_ops.py (an 8x8x1 image:
Conv2D-MaxPool-DepthwiseConv2D-AveragePool-Dense-Softmax; a 12x10x2 one with strides, a 1x1
convolution and two Dense layers) are converted to full int8 and written twice by
``export.plain_c_files``, which sends them through ``graph_c``: with ``kernels="reference"``
over ``deploy/c/tinyml_ops.c`` (TFLM's reference loops), with ``kernels="fast"`` over
``deploy/c/tinyml_ops_fast.c`` for CONV_2D, DEPTHWISE_CONV_2D, the pools and FULLY_CONNECTED
(softmax stays the reference kernel). Each runs in the firmware harness on the Uno (simavr,
cycles), the Cortex-M4F (QEMU, instructions) and this PC (callgrind, when installed), on random
input images; every output code is compared with the TFLM runtime's. Flash and static RAM are
over the empty harness, as in benchmarks/firmware_report.py; the activation buffers (and the
fast kernels' window buffer) are static RAM here (the Dense chain keeps its two buffers on the
stack).

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

from tinyml_helpers.deploy import env, export, firmware, graph, graph_c, tflm  # noqa: E402

TARGETS = ("uno", "m4", "host")
KERNEL_SETS = graph_c.KERNEL_SETS  # ("reference", "fast"): the two columns of each figure
CNN_NAMES = [case.name for case in test_ops.CASES if case.op == "CNN"]
UNITS = {"cycles": "cycles", "instructions": "instructions", "x86-64 instructions": "x86 instr."}


def measure(n_rows: int) -> list[dict]:
    """Return one record per (CNN, target, kernel set): sizes, cost and how many rows equal
    TFLM's."""
    tf = env.setup(0)
    records = []
    with tempfile.TemporaryDirectory(prefix="cnn-report-") as tmp:
        for name in CNN_NAMES:
            index = next(i for i, c in enumerate(test_ops.CASES) if c.name == name)
            g = graph.read(test_ops.models(test_ops.CASES[index], index, tf)["int8"])
            rows = test_ops.random_inputs(g, n_rows, seed=4000 + index).reshape(n_rows, -1)
            want = tflm.run(g, rows).reshape(n_rows, -1)
            for target in TARGETS:
                if firmware.missing_tools(target):
                    print(f"skipped {target}: {firmware.install_hint(target)}", file=sys.stderr)
                    continue
                for kernels in KERNEL_SETS:
                    model = export.plain_c_files(g, "cnn", kernels)
                    start = time.perf_counter()
                    m = firmware.measure(target, model, rows,
                                         build_dir=Path(tmp) / f"{index}{target}{kernels}",
                                         host_cost=target == "host" and shutil.which("valgrind")
                                         is not None)
                    got = m.result.outputs.reshape(n_rows, -1)
                    records.append({
                        "model": name, "target": target, "kernels": kernels,
                        "inputs": model.n_inputs, "outputs": model.n_outputs,
                        "constants": model.constant_bytes,
                        "activations": model.activation_bytes, "flash": m.flash,
                        "static_ram": m.static_ram, "stack": m.stack, "cost": m.cost,
                        "cost_max": m.cost_max, "unit": m.unit, "us": m.microseconds,
                        "equal": int(np.all(got == want, axis=1).sum()), "rows": n_rows,
                        "seconds": time.perf_counter() - start})
    return records


def _pair(ref: dict, fast: dict, key: str, fmt) -> str:
    """Return 'reference / fast' of one figure ('—' where it was not measured)."""
    return " / ".join("—" if r[key] is None else fmt(r[key]) for r in (ref, fast))


def markdown(records: list[dict]) -> str:
    """Return the records as a Markdown table: per CNN and target, each figure as
    'reference / fast', and how many times faster the fast kernels run."""
    lines = ["| model | target | flash B | static RAM B | stack B | per inference | unit | "
             "µs | fast: × faster | rows = TFLM |",
             "|---|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    by_key = {(r["model"], r["target"], r["kernels"]): r for r in records}
    for (name, target, kernels), ref in by_key.items():
        if kernels != "reference" or (name, target, "fast") not in by_key:
            continue
        fast = by_key[(name, target, "fast")]
        approx = "≈" if target == "m4" else ""
        speedup = "—" if ref["cost"] is None or not fast["cost"] else \
            f"{ref['cost'] / fast['cost']:.1f}"
        figures = [_pair(ref, fast, key, "{:,}".format) for key in ("flash", "static_ram",
                                                                     "stack")]
        figures.append(_pair(ref, fast, "cost", "{:,.0f}".format))
        figures.append(UNITS.get(ref["unit"], ref["unit"]))
        figures.append(_pair(ref, fast, "us", (approx + "{:,.0f}").format))
        lines.append(f"| {name.removeprefix('CNN ')} | {target} | " + " | ".join(figures)
                     + f" | {speedup} | {ref['equal']}/{ref['rows']} / "
                     f"{fast['equal']}/{fast['rows']} |")
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
        seen.setdefault((r["model"], r["kernels"]), r)
    for (name, kernels), r in seen.items():
        print(f"{name} ({kernels} kernels): {r['inputs']} input codes, {r['outputs']} outputs, "
              f"{r['constants']:,} B of weights, biases (folded, for the fast kernels) and "
              f"requantization constants, {r['activations']:,} B of activation buffers")
    print("Each figure is reference kernels / fast kernels. flash and static RAM: over the "
          "same harness without the model; stack: the deepest one inference reached (painted). "
          "uno: cycles (Timer1), µs at 16 MHz; m4: QEMU instructions, µs "
          f"{firmware.M4_CLOCK_NOTE}; host: callgrind instructions. The fast kernels replace "
          "CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D and FULLY_CONNECTED; "
          "softmax runs the reference kernel in both.")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
