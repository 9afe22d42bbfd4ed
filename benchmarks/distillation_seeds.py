"""Lesson 05's two distillation experiments over several seeds: is one seed's result luck?

Run: `.venv/bin/python benchmarks/distillation_seeds.py [--seeds 0 1 2 3 4] [--write]` (about
20 s per seed on two busy cores). For each seed it trains:
- the sine: the teacher, and each student alone, distilled, and distilled with extra x
  (``distillation.sine_distillation_table``);
- the spiral with lesson 05's teacher (trained on jittered inputs): the student alone,
  distilled, distilled at T = 1, distilled with α = 0 (the teacher's answers only), and alone
  with the teacher's jitter (``distillation.spiral_distillation_table``), each converted to
  float32 and full-int8 .tflite files and the int8 one scored under LiteRT;
- the spiral with two other teachers, one trained with dropout 0.3 (the lesson's earlier
  teacher) and one with no regularisation at all: each teacher and the student distilled
  from it.

It prints per-seed tables and mean [min, max] lines. ``--write`` stores the per-seed rows in
tinyml_helpers/measured/distillation_seeds.json (through a temporary file and a rename), which
lesson 05 prints beside its live seed; ``--stored`` prints that file's tables without training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tinyml_helpers import distillation
from tinyml_helpers.deploy import env, files

STUDENT = "student " + "-".join(map(str, distillation.SPIRAL_STUDENT))
TEACHER = "teacher " + "-".join(map(str, distillation.SPIRAL_TEACHER))
# Every way of training the spiral student with the lesson's teacher: the lesson's two, then
# the ones its exercises 3 and 4 try.
SPIRAL_WAYS = {
    **distillation.SPIRAL_WAYS,
    "distilled, T = 1": {"temperature": 1.0, "alpha": distillation.SPIRAL_ALPHA},
    "distilled, alpha = 0": {"temperature": distillation.SPIRAL_TEMPERATURE, "alpha": 0.0},
    "alone, jittered": {"noise": distillation.SPIRAL_TEACHER_NOISE},
}
# The other teachers: (noise, dropout) while training.
OTHER_TEACHERS = {"dropout 0.3": (0.0, 0.3), "no regularisation": (0.0, 0.0)}


def measure(seed: int) -> dict:
    """Return seed ``seed``'s rows: {"sine": [...], "spiral": [...], "spiral_teachers": {...}}."""
    record = {"sine": distillation.sine_distillation_table(seed),
              "spiral": distillation.spiral_distillation_table(seed, ways=SPIRAL_WAYS,
                                                               int8=True),
              "spiral_teachers": {}}
    distilled = {"distilled": distillation.SPIRAL_WAYS["distilled"]}
    for name, (noise, dropout) in OTHER_TEACHERS.items():
        record["spiral_teachers"][name] = distillation.spiral_distillation_table(
            seed, teacher_noise=noise, teacher_dropout=dropout, ways=distilled)
    return record


def _accuracy(rows: list[dict], name: str) -> float:
    return next(r["test_accuracy"] for r in rows if r["name"] == name)


def _line(label: str, values: list[float], scale: float = 100, unit: str = " %",
          sign: str = "", digits: int = 1) -> str:
    s = distillation.spread(values)
    f = f"{sign}.{digits}f"
    return (f"{label:<40}" + "".join(f"{scale * v:{sign}8.{digits}f}" for v in values)
            + f"   mean {scale * s['mean']:{f}}{unit} [{scale * s['min']:{f}}, "
              f"{scale * s['max']:{f}}]")


def summary(record: dict) -> str:
    """Return the per-seed tables and mean [min, max] lines of a record."""
    seeds = list(record["seeds"])
    runs = [record["seeds"][s] for s in seeds]
    lines = [f"{'sine: test MSE vs sin':<40}" + "".join(f"{'seed ' + s:>8}" for s in seeds)]
    for i, row in enumerate(runs[0]["sine"]):
        lines.append(_line(row["name"], [r["sine"][i]["test_mse_vs_sin"] for r in runs], 1, "",
                           digits=4))
    ratios = []
    for r in runs:
        mse = {row["name"]: row["test_mse_vs_sin"] for row in r["sine"]}
        ratios += [v / mse[name.split(" distilled")[0] + " alone"] - 1
                   for name, v in mse.items() if " distilled" in name]
    s = distillation.spread(ratios)
    lines.append(f"distilled vs alone: MSE {100 * s['mean']:+.1f} % on average "
                 f"[{100 * s['min']:+.1f}, {100 * s['max']:+.1f}], lower in "
                 f"{sum(v < 0 for v in ratios)} of {len(ratios)} cases")

    lines.append(f"\n{'spiral: test accuracy, %':<40}"
                 + "".join(f"{'seed ' + s:>8}" for s in seeds))
    for row in runs[0]["spiral"]:
        lines.append(_line(row["name"], [_accuracy(r["spiral"], row["name"]) for r in runs]))
    alone = [_accuracy(r["spiral"], f"{STUDENT} alone") for r in runs]
    for way in SPIRAL_WAYS:
        if way != "alone":
            gain = [_accuracy(r["spiral"], f"{STUDENT} {way}") - a for r, a in zip(runs, alone,
                                                                                   strict=True)]
            lines.append(_line(f"  {way} - alone (points)", gain, unit="", sign="+")
                         + f", better on {sum(g > 0 for g in gain)} of {len(gain)}")
    gain = [_accuracy(r["spiral"], TEACHER) - a for r, a in zip(runs, alone, strict=True)]
    lines.append(_line("  teacher - student alone (points)", gain, unit="", sign="+")
                 + f", better on {sum(g > 0 for g in gain)} of {len(gain)}")
    distilled = [next(row for row in r["spiral"] if row["name"] == f"{STUDENT} distilled")
                 for r in runs]
    lines.append(_line("  distilled, int8 - float32 (points)",
                       [d["int8_test_accuracy"] - d["test_accuracy"] for d in distilled],
                       unit="", sign="+"))
    lines.append(f"  distilled .tflite bytes: float32 {distilled[0]['float32_tflite_bytes']:,}, "
                 f"int8 {distilled[0]['int8_tflite_bytes']:,}")
    for teacher in OTHER_TEACHERS:
        lines.append(f"\nspiral, teacher with {teacher}:")
        rows = [r["spiral_teachers"][teacher] for r in runs]
        for name in (TEACHER, f"{STUDENT} distilled"):
            values = [_accuracy(t, name) for t in rows]
            lines.append(_line(name, values))
        gain = [_accuracy(t, TEACHER) - a for t, a in zip(rows, alone, strict=True)]
        lines.append(_line("  teacher - student alone (points)", gain, unit="", sign="+")
                     + f", better on {sum(g > 0 for g in gain)} of {len(gain)}")
        gain = [_accuracy(t, f"{STUDENT} distilled") - a for t, a in zip(rows, alone,
                                                                       strict=True)]
        lines.append(_line("  distilled - alone (points)", gain, unit="", sign="+")
                     + f", better on {sum(g > 0 for g in gain)} of {len(gain)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--write", action="store_true",
                        help=f"store the per-seed rows in {distillation.SEEDS_FILE}")
    parser.add_argument("--stored", action="store_true",
                        help="print the stored record's tables instead of measuring")
    args = parser.parse_args(argv)
    if args.stored:
        record = distillation.stored_seeds()
        print(summary(record))
        print(f"\n(written by {record['command']}, in {record['seconds']} s)")
        return 0
    env.setup(args.seeds[0])
    start = time.perf_counter()
    command = ".venv/bin/python benchmarks/distillation_seeds.py --seeds " + " ".join(
        map(str, args.seeds)) + " --write"
    record = {"command": command, "steps": distillation.STEPS,
              "spiral_teacher_noise": distillation.SPIRAL_TEACHER_NOISE,
              "temperature": distillation.SPIRAL_TEMPERATURE, "alpha": distillation.SPIRAL_ALPHA,
              "seeds": {}}
    for seed in args.seeds:
        record["seeds"][str(seed)] = measure(seed)
        print(f"seed {seed} done ({time.perf_counter() - start:.0f} s)", flush=True)
    record["seconds"] = round(time.perf_counter() - start)
    print(summary(record))
    print(f"\n(total {record['seconds']} s)")
    if args.write:
        files.write_atomic(distillation.SEEDS_FILE, json.dumps(record, indent=1) + "\n")
        print(f"wrote {distillation.SEEDS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
