"""Hundreds of random int8 models through the library-free C on three targets, against TFLM.

For every operator kind of tests/random_models.py (CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D,
AVERAGE_POOL_2D, FULLY_CONNECTED, SOFTMAX after a Dense, Keras Conv1D) ``--per-kind`` random
models are drawn, and ``--cnns`` whole random CNNs. Each model gets ``--rows`` input rows; the
TFLM Python runtime (the trusted reference) and ``ops.run`` compute them, and the generated C
computes them in the firmware harness on this PC (gcc), on a simulated Arduino Uno (avr-gcc +
simavr) and on a simulated Cortex-M4F (arm-none-eabi-gcc + QEMU), many models per firmware
build: graph_c over the reference kernels of c/tinyml_ops.c, and over the fast kernels of
c/tinyml_ops_fast.c (``--kernels``, both by default). Models too big for the Uno's 2 KB of RAM
run on the other two targets and are counted in the tables.

The tables count, per operator kind and per parameter value, the models and the rows whose
every output code equals TFLM's ("equal / rows"). A model appears once in each parameter kind
of its operator (its stride, its padding, ...). Then: what was drawn and refused (by Keras, the
converter, graph.read, graph_c or TFLM) and drawn again, the time per target, and every row that
differs.

Run: ``.venv/bin/python benchmarks/ops_targets.py [--per-kind 40] [--cnns 40] [--rows 32]
[--kernels reference fast]`` (3.5 to 6 minutes on 2 shared cores with one kernel set, a few
more with both: drawing and converting the models takes most of it, and the firmware runs
meanwhile, the Uno's simulations the longest).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import random_models as rm  # noqa: E402  (the generator lives with the tests that assert it)

from tinyml_helpers.deploy import env, firmware, graph_c  # noqa: E402

TITLES = {"host": "host", "uno": "Uno", "m4": "M4"}
SHORT = {"reference": "ref.", "fast": "fast"}


def _cell(pairs: list[tuple[int, int]]) -> str:
    """Return 'equal / rows' summed over (rows, equal) pairs ('-' when nothing ran)."""
    if not pairs:
        return "-"
    rows, equal = (sum(p[i] for p in pairs) for i in (0, 1))
    mark = "" if equal == rows else " **≠**"
    return f"{equal} / {rows}{mark}"


def _row(title: str, members: list[dict], columns: list[tuple[str, str]]) -> str:
    big = sum(r["model"].uno_skip is not None or r["model"].fast_uno_skip is not None
              or any(t == "uno" for t, _ in r["skipped"]) for r in members)
    cells = [_cell([r["ops"] for r in members])]
    cells += [_cell([r[c] for r in members if r.get(c)]) for c in columns]
    return f"| {title} | {len(members)} | {big} | " + " | ".join(cells) + " |"


def _title(column: tuple[str, str], kernel_sets: tuple[str, ...]) -> str:
    target, kernels = column
    return TITLES[target] + (f" {SHORT[kernels]}" if len(kernel_sets) > 1 else "") + " C = TFLM"


def table(results: list[dict], kinds: tuple[str, ...], targets: tuple[str, ...],
          kernel_sets: tuple[str, ...] = ("reference",)) -> str:
    """Return the Markdown table of ``kinds``: one line per kind, then one per parameter; a
    column per target and kernel set."""
    columns = [(t, k) for t in targets for k in kernel_sets]
    head = ("| op / parameter = value | models | too big for the Uno | ops.run = TFLM | "
            + " | ".join(_title(c, kernel_sets) for c in columns) + " |")
    lines = [head, "|---|---:|---:|" + "---:|" * (1 + len(columns))]
    for kind in kinds:
        members = [r for r in results if r["model"].kind == kind]
        if not members:
            continue
        lines.append(_row(f"**{kind}** (all)", members, columns))
        values: dict[str, set[str]] = defaultdict(set)
        order: list[str] = []
        for r in members:
            for key, value in r["model"].labels.items():
                if key not in values:
                    order.append(key)
                values[key].add(value)
        for key in order:
            for value in sorted(values[key], key=_natural):
                chosen = [r for r in members if r["model"].labels.get(key) == value]
                lines.append(_row(f"{kind} / {key} = {value}", chosen, columns))
    return "\n".join(lines)


def _natural(text: str):
    """Sort values by their first number ('< 0.05' before '0.05-0.5'), then as text."""
    number = re.match(r"[<>= ]*(\d+(\.\d+)?)", text)
    if number is None:
        return (1, 0.0, text)
    bias = -0.5 if text.startswith("<") else 0.5 if text.startswith(">") else 0.0
    return (0, float(number.group(1)) + 1e-9 * bias, text)


def _compare(model: rm.RandomModel, got: np.ndarray | None) -> tuple[int, int] | None:
    if got is None:
        return None
    return len(got), int(np.sum(np.all(got == model.expected, axis=1)))


def _differences(results: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    """Return one line per model and target and kernel set (or ops.run) whose outputs differ
    from TFLM's."""
    lines = []
    for r in results:
        m = r["model"]
        for source in ("ops", *columns):
            got = m.reference if source == "ops" else r["outputs"].get(source)
            where = "ops" if source == "ops" else f"{source[0]} ({source[1]} kernels)"
            line = None if got is None else rm.mismatch(m, got, where)
            if line is not None:
                lines.append(f"- {line}")
    return lines


def main() -> None:
    """Draw, run and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=40, help="random models per op kind")
    parser.add_argument("--cnns", type=int, default=40, help="random whole CNNs")
    parser.add_argument("--rows", type=int, default=32, help="input rows per model")
    parser.add_argument("--seed", type=int, default=0, help="first seed of every kind")
    parser.add_argument("--targets", nargs="+", choices=rm.TARGETS, default=list(rm.TARGETS),
                        help="where the C runs")
    parser.add_argument("--kernels", nargs="+", choices=graph_c.KERNEL_SETS,
                        default=list(graph_c.KERNEL_SETS),
                        help="graph_c's kernels the C is written over (default: both)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="firmware builds and simulations at once (models are drawn meanwhile)")
    args = parser.parse_args()
    started = time.perf_counter()
    print("$ " + shlex.join([".venv/bin/python", "benchmarks/ops_targets.py", *sys.argv[1:]]))
    targets = tuple(t for t in args.targets if not firmware.missing_tools(t))
    kernel_sets = tuple(k for k in graph_c.KERNEL_SETS if k in args.kernels)
    columns = [(t, k) for t in targets for k in kernel_sets]
    for t in args.targets:
        if t not in targets:
            print(f"(skipping {t}: {', '.join(firmware.missing_tools(t))} not installed)")
    tf = env.setup(0)

    counts = {kind: args.per_kind for kind in rm.OP_KINDS} | {"CNN": args.cnns}
    results: list[dict] = []
    target_seconds: Counter = Counter()
    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    draw_seconds = 0.0

    def run(kind_models: list[rm.RandomModel], column: tuple[str, str], where: Path):
        t0 = time.perf_counter()
        outputs, infos, skipped = rm.run_models(column[0], kind_models, where,
                                                kernels=column[1])
        return outputs, infos, skipped, time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="ops-targets-") as tmp, \
            ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = []
        for kind, n in counts.items():
            t0 = time.perf_counter()
            drawn = [rm.draw(kind, args.seed + i, tf, args.rows) for i in range(n)]
            draw_seconds += time.perf_counter() - t0
            results.extend({"model": m, "outputs": {}, "skipped": {}} for m in drawn)
            for column in columns:
                where = Path(tmp) / f"{kind}_{column[0]}_{column[1]}"
                futures.append((column, pool.submit(run, drawn, column, where)))
        by_id = {id(r["model"]): r for r in results}
        for column, future in futures:
            outputs, infos, skipped, seconds = future.result()
            target_seconds[column] += seconds
            runs[column].extend(infos)
            for key, got in outputs.items():
                by_id[key]["outputs"][column] = got
            for key, why in skipped.items():
                by_id[key]["skipped"][column] = why

    for r in results:
        r["ops"] = _compare(r["model"], r["model"].reference)
        for column in columns:
            r[column] = _compare(r["model"], r["outputs"].get(column))

    n_models = len(results)
    n_rows = n_models * args.rows
    print(f"\n{n_models} random models ({args.per_kind} per op kind, {args.cnns} CNNs), "
          f"{args.rows} rows each, the C over graph_c's {' and '.join(kernel_sets)} kernels; a "
          "cell is rows whose every output code equals TFLM's / rows run.\n")
    print("### Operators\n")
    print(table(results, rm.OP_KINDS, targets, kernel_sets))
    print("\n### Whole CNNs (2-5 convolutions and pools, Flatten, Dense, maybe Softmax)\n")
    print(table(results, ("CNN",), targets, kernel_sets))

    refusals = Counter(reason.split(" | ")[0] for r in results for reason in r["model"].refusals)
    stages = Counter(reason.split(":")[0] for reason in refusals.elements())
    print(f"\n### Drawn and refused, then drawn again: {sum(stages.values())}\n")
    print(", ".join(f"{stage}: {n}" for stage, n in stages.most_common()) or "none")
    for reason, n in refusals.most_common():
        print(f"- {n} x {reason[:110]}")
    print("\nRefused after converting (the model's seed drew these before its valid one):")
    for r in results:
        for reason in r["model"].refusals:
            if not reason.startswith("Keras"):
                why, drawn = reason.split(" | ", 1)
                print(f"- {r['model'].kind} #{r['model'].seed}: {drawn} -> {why[:90]}")

    def uno_skipped(r: dict) -> str | None:
        m = r["model"]
        fast = None if m.fast_uno_skip is None else f"(fast kernels) {m.fast_uno_skip}"
        return m.uno_skip or fast or next(
            (why for (t, _), why in r["skipped"].items() if t == "uno"), None)

    big = [r for r in results if uno_skipped(r)]
    if "uno" in targets:
        print(f"\n### Too big for the Uno: {len(big)} models (with one kernel set or both; run on "
              "the other targets)\n")
        for r in big[:6]:
            why = uno_skipped(r)
            print(f"- {r['model'].name}: {why[:150]}")
        if len(big) > 6:
            print(f"- and {len(big) - 6} more")

    print(f"\n### Time (the firmware builds and runs in {args.jobs} threads while the models are "
          "drawn; a target's seconds add up its threads)\n")
    print(f"- drawing, converting, TFLM and ops.run: {draw_seconds:.0f} s "
          f"({draw_seconds / max(1, n_models):.2f} s a model)")
    for column in columns:
        target, kernels = column
        infos = runs[column]
        extra = ""
        if target == "uno" and infos:
            worst = max(i["ram"] + i["stack"] for i in infos)
            extra = (f"; largest static RAM + deepest invoke stack {worst} of "
                     f"{rm.UNO_RAM} B")
        print(f"- {TITLES[target]} ({kernels} kernels): {len(infos)} builds of "
              f"{sum(i['models'] for i in infos)} models, {sum(i['cases'] for i in infos)} "
              f"harness cases; build {sum(i['build_seconds'] for i in infos):.0f} s, run "
              f"{sum(i['run_seconds'] for i in infos):.0f} s, both with the Python around them "
              f"{target_seconds[column]:.0f} s{extra}")
    differ = _differences(results, columns)
    print(f"\n### Rows that differ from TFLM: {len(differ)} model/target pairs\n")
    print("\n".join(differ) if differ else f"none: every code of the {n_rows} rows is equal on "
          "every target, over every kernel set, that ran them")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
