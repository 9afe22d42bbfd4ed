"""How often the NumPy reference kernels (tinyml_helpers.deploy.ops) equal TFLM, as a table.

For every model of the table in tests/test_ops.py (one operator and one choice of parameters
per row, plus whole small CNNs), converted to full int8 and to float32, this runs ``--inputs``
random inputs through ``ops.run(graph.read(tflite), x)`` and through the TFLM Python runtime
(``tflm.run``) and prints a Markdown table: rows compared, rows equal (int8: every output code
equal; float32: every output within 1e-5, relative above 1) and the largest difference.

Run: ``.venv/bin/python benchmarks/ops_equality.py [--inputs 500]`` (about 40 s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_ops  # noqa: E402  (the case table lives with the tests that assert it)

from tinyml_helpers.deploy import env  # noqa: E402


def table(n_inputs: int) -> list[tuple[str, str, str, int, int, float]]:
    """Return (op, parameters, mode, rows, rows equal, largest difference) per model."""
    tf = env.setup(0)
    rows = []
    for index, case in enumerate(test_ops.CASES):
        tflites = test_ops.models(case, index, tf)
        for mode in test_ops.MODES:
            n, equal, worst = test_ops.compare(tflites[mode], n_inputs, seed=2000 + index)
            rows.append((case.op, case.params, mode, n, equal, worst))
    return rows


def markdown(rows) -> str:
    """Return the rows as a Markdown table with a total line."""
    lines = ["| op | parameters | mode | inputs | equal | max diff |",
             "|---|---|---|---:|---:|---:|"]
    for op, params, mode, n, equal, worst in rows:
        diff = f"{worst:.0f} LSB" if mode == "int8" else f"{worst:.1e}"
        lines.append(f"| {op} | {params} | {mode} | {n} | {equal} | {diff} |")
    total, same = sum(r[3] for r in rows), sum(r[4] for r in rows)
    lines.append(f"| **all** | {len(rows) // 2} models | both | {total} | {same} | |")
    return "\n".join(lines)


def main() -> None:
    """Print the equality table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=500, help="random inputs per model")
    args = parser.parse_args()
    print(markdown(table(args.inputs)))


if __name__ == "__main__":
    main()
