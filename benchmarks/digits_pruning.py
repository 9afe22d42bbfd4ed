"""Structured against unstructured pruning of lesson 08's digits CNN, over seeds, measured on the
simulated boards.

For each seed: the Dense baseline and the CNN (Conv2D 8 -> pool -> Conv2D 16 -> pool -> Dense 10)
are trained; the CNN then loses whole filters (the 4 and 8 with the largest L1 norm are kept,
``digits.remove_filters``) and is fine-tuned, and a copy of the CNN loses as many single weights
per layer (smallest |w|, ``digits.prune_weights``) and is fine-tuned with its zeros held. Each of
the three is converted to full int8 and written as library-free C (the fast kernels), which runs
on the simulated Uno (simavr, cycles) and Cortex-M4F (QEMU, instructions) over the first test
images: flash and static RAM over the empty harness, stack, cost per inference. Accuracy is the
TFLM runtime's on all 360 test images (the boards give the same codes; lesson 08 checks that
image for image).

Run: ``.venv/bin/python benchmarks/digits_pruning.py [--seeds 0 1 2 3 4] [--write]`` (about 30 s
per seed). ``--write`` stores the records in tinyml_helpers/measured/digits_pruning.json, which
lesson 08 prints beside its live seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tinyml_helpers import digits, measurements
from tinyml_helpers.deploy import env
from tinyml_helpers.deploy.files import write_atomic

MODELS = ("original", "filters removed", "weights zeroed")


def table(records: list[dict]) -> str:
    """Return the Markdown table of the records: accuracy over seeds, sizes and board costs
    (which hardly depend on the seed: the first seed's, with the range when they differ)."""
    lines = ["| model | params | zero weights | float acc | int8 acc (TFLM) | .tflite B | "
             "Uno flash B | Uno RAM B (static + stack) | Uno cycles | M4 flash B | "
             "M4 instructions |", "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in MODELS:
        rows = [r[name] for r in records]
        first = rows[0]

        def span(key_fn, fmt="{:,.0f}", rows=rows):
            values = [key_fn(r) for r in rows]
            lo, hi = min(values), max(values)
            return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"

        uno = first["boards"]["uno"]
        lines.append(
            f"| {name} | {first['params']:,} | {span(lambda r: r['zero_weights'])} | "
            f"{measurements.spread_text([r['float_accuracy'] for r in rows])} | "
            f"{measurements.spread_text([r['int8_accuracy'] for r in rows])} | "
            f"{span(lambda r: r['tflite_bytes'])} | "
            f"{span(lambda r: r['boards']['uno']['flash'])} | "
            f"{uno['static_ram']:,} + {uno['stack']:,} | "
            f"{span(lambda r: r['boards']['uno']['cost'])} | "
            f"{span(lambda r: r['boards']['m4']['flash'])} | "
            f"{span(lambda r: r['boards']['m4']['cost'])} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run the experiment for each seed, print the table, optionally store it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--rows", type=int, default=16, help="test images run on the boards")
    parser.add_argument("--write", action="store_true",
                        help=f"store the records in {measurements.DIGITS_PRUNING}")
    args = parser.parse_args(argv)
    env.setup(args.seeds[0])
    start = time.perf_counter()
    records = []
    for seed in args.seeds:
        t = time.perf_counter()
        records.append(digits.pruning_experiment(seed, rows=args.rows))
        print(f"seed {seed}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    print(table(records))
    dense = [r["dense_accuracy"] for r in records]
    print(f"\nDense baseline (64-32-10) float accuracy: {measurements.spread_text(dense)} "
          f"over seeds {args.seeds}; accuracies are mean [min, max] over the seeds.")
    print("Uno: cycles per inference (simavr, 16 MHz); M4: QEMU instructions; flash and static "
          "RAM over the empty harness; stack: the deepest one inference reached.")
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.write:
        write_atomic(measurements.DIGITS_PRUNING,
                     json.dumps({"seeds": args.seeds, "rows": args.rows, "records": records},
                                indent=1) + "\n")
        print(f"wrote {measurements.DIGITS_PRUNING}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
