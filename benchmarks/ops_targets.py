"""Hundreds of random int8 models through the library-free C on three targets, against TFLM.

For every operator kind of tests/random_models.py (CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D,
AVERAGE_POOL_2D, FULLY_CONNECTED, SOFTMAX after a Dense, Keras Conv1D) ``--per-kind`` random
models are drawn, and ``--cnns`` whole random CNNs. Each model gets ``--rows`` input rows; the
TFLM Python runtime (the trusted reference) and ``ops.run`` compute them, and the generated C
(graph_c over c/tinyml_ops.c) computes them in the firmware harness on this PC (gcc), on a
simulated Arduino Uno (avr-gcc + simavr) and on a simulated Cortex-M4F (arm-none-eabi-gcc +
QEMU), many models per firmware build. Models too big for the Uno's 2 KB of RAM run on the other
two targets and are counted in the tables.

The tables count, per operator kind and per parameter value, the models and the rows whose
every output code equals TFLM's ("equal / rows"). A model appears once in each parameter kind
of its operator (its stride, its padding, ...). Then: what was drawn and refused (by Keras, the
converter, graph.read, graph_c or TFLM) and drawn again, the time per target, and every row that
differs.

Run: ``.venv/bin/python benchmarks/ops_targets.py [--per-kind 40] [--cnns 40] [--rows 32]``
(3.5 to 6 minutes on 2 shared cores: drawing and converting the models takes most of it, and
the firmware runs meanwhile, the Uno's simulations the longest).
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

from tinyml_helpers.deploy import env, firmware  # noqa: E402

TITLES = {"host": "host", "uno": "Uno", "m4": "M4"}


def _cell(pairs: list[tuple[int, int]]) -> str:
    """Return 'equal / rows' summed over (rows, equal) pairs ('-' when nothing ran)."""
    if not pairs:
        return "-"
    rows, equal = (sum(p[i] for p in pairs) for i in (0, 1))
    mark = "" if equal == rows else " **≠**"
    return f"{equal} / {rows}{mark}"


def _row(title: str, members: list[dict], targets: tuple[str, ...]) -> str:
    big = sum(r["model"].uno_skip is not None or "uno" in r["skipped"] for r in members)
    cells = [_cell([r["ops"] for r in members])]
    cells += [_cell([r[t] for r in members if r.get(t)]) for t in targets]
    return f"| {title} | {len(members)} | {big} | " + " | ".join(cells) + " |"


def table(results: list[dict], kinds: tuple[str, ...], targets: tuple[str, ...]) -> str:
    """Return the Markdown table of ``kinds``: one line per kind, then one per parameter."""
    head = ("| op / parameter = value | models | too big for the Uno | ops.run = TFLM | "
            + " | ".join(f"{TITLES[t]} C = TFLM" for t in targets) + " |")
    lines = [head, "|---|---:|---:|" + "---:|" * (1 + len(targets))]
    for kind in kinds:
        members = [r for r in results if r["model"].kind == kind]
        if not members:
            continue
        lines.append(_row(f"**{kind}** (all)", members, targets))
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
                lines.append(_row(f"{kind} / {key} = {value}", chosen, targets))
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


def _differences(results: list[dict], targets: tuple[str, ...]) -> list[str]:
    """Return one line per model and target (or ops.run) whose outputs differ from TFLM's."""
    lines = []
    for r in results:
        m = r["model"]
        for source in ("ops", *targets):
            got = m.reference if source == "ops" else r["outputs"].get(source)
            line = None if got is None else rm.mismatch(m, got, source)
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
    parser.add_argument("--jobs", type=int, default=2,
                        help="firmware builds and simulations at once (models are drawn meanwhile)")
    args = parser.parse_args()
    started = time.perf_counter()
    print("$ " + shlex.join([".venv/bin/python", "benchmarks/ops_targets.py", *sys.argv[1:]]))
    targets = tuple(t for t in args.targets if not firmware.missing_tools(t))
    for t in args.targets:
        if t not in targets:
            print(f"(skipping {t}: {', '.join(firmware.missing_tools(t))} not installed)")
    tf = env.setup(0)

    counts = {kind: args.per_kind for kind in rm.OP_KINDS} | {"CNN": args.cnns}
    results: list[dict] = []
    target_seconds: Counter = Counter()
    runs: dict[str, list[dict]] = defaultdict(list)
    draw_seconds = 0.0

    def run(kind_models: list[rm.RandomModel], target: str, where: Path):
        t0 = time.perf_counter()
        outputs, infos, skipped = rm.run_models(target, kind_models, where)
        return outputs, infos, skipped, time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="ops-targets-") as tmp, \
            ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = []
        for kind, n in counts.items():
            t0 = time.perf_counter()
            drawn = [rm.draw(kind, args.seed + i, tf, args.rows) for i in range(n)]
            draw_seconds += time.perf_counter() - t0
            results.extend({"model": m, "outputs": {}, "skipped": {}} for m in drawn)
            for target in targets:
                where = Path(tmp) / f"{kind}_{target}"
                futures.append((target, pool.submit(run, drawn, target, where)))
        by_id = {id(r["model"]): r for r in results}
        for target, future in futures:
            outputs, infos, skipped, seconds = future.result()
            target_seconds[target] += seconds
            runs[target].extend(infos)
            for key, got in outputs.items():
                by_id[key]["outputs"][target] = got
            for key, why in skipped.items():
                by_id[key]["skipped"][target] = why

    for r in results:
        r["ops"] = _compare(r["model"], r["model"].reference)
        for target in targets:
            r[target] = _compare(r["model"], r["outputs"].get(target))

    n_models = len(results)
    n_rows = n_models * args.rows
    print(f"\n{n_models} random models ({args.per_kind} per op kind, {args.cnns} CNNs), "
          f"{args.rows} rows each; a cell is rows whose every output code equals TFLM's / "
          "rows run.\n")
    print("### Operators\n")
    print(table(results, rm.OP_KINDS, targets))
    print("\n### Whole CNNs (2-5 convolutions and pools, Flatten, Dense, maybe Softmax)\n")
    print(table(results, ("CNN",), targets))

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

    big = [r for r in results if r["model"].uno_skip or "uno" in r["skipped"]]
    if "uno" in targets:
        print(f"\n### Too big for the Uno: {len(big)} models (run on the other targets)\n")
        for r in big[:6]:
            why = r["model"].uno_skip or r["skipped"]["uno"]
            print(f"- {r['model'].name}: {why[:150]}")
        if len(big) > 6:
            print(f"- and {len(big) - 6} more")

    print(f"\n### Time (the firmware builds and runs in {args.jobs} threads while the models are "
          "drawn; a target's seconds add up its threads)\n")
    print(f"- drawing, converting, TFLM and ops.run: {draw_seconds:.0f} s "
          f"({draw_seconds / max(1, n_models):.2f} s a model)")
    for target in targets:
        infos = runs[target]
        extra = ""
        if target == "uno" and infos:
            worst = max(i["ram"] + i["stack"] for i in infos)
            extra = (f"; largest static RAM + deepest invoke stack {worst} of "
                     f"{rm.UNO_RAM} B")
        print(f"- {TITLES[target]}: {len(infos)} builds of {sum(i['models'] for i in infos)} "
              f"models, {sum(i['cases'] for i in infos)} harness cases; build "
              f"{sum(i['build_seconds'] for i in infos):.0f} s, run "
              f"{sum(i['run_seconds'] for i in infos):.0f} s, both with the Python around them "
              f"{target_seconds[target]:.0f} s{extra}")
    differ = _differences(results, targets)
    print(f"\n### Rows that differ from TFLM: {len(differ)} model/target pairs\n")
    print("\n".join(differ) if differ else f"none: every code of the {n_rows} rows is equal on "
          "every target that ran them")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
