"""Lesson 05's two distillation experiments over several seeds: is one seed's result luck?

Run: `.venv/bin/python benchmarks/distillation_seeds.py [--seeds 0 1 2 3 4]` (about 2 minutes
for five seeds on two cores). Prints, per seed and on average:
- the sine: MSE vs sin(x) of each student alone, distilled, and distilled with extra x;
- the spiral: test accuracy of the teacher (dropout 0.3), the student alone and distilled;
- the spiral with a teacher trained without dropout: its training accuracy and the gain.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tinyml_helpers import distillation
from tinyml_helpers.deploy import env


def _sine(seeds: list[int]) -> None:
    tables = [distillation.sine_distillation_table(seed) for seed in seeds]
    names = [r["name"] for r in tables[0]]
    print(f"{'sine: MSE vs sin':<34}" + "".join(f"{f'seed {s}':>10}" for s in seeds)
          + f"{'mean':>10}")
    for i, name in enumerate(names):
        mse = [t[i]["test_mse_vs_sin"] for t in tables]
        print(f"{name:<34}" + "".join(f"{v:>10.5f}" for v in mse) + f"{np.mean(mse):>10.5f}")
    wins, ratios = 0, []
    for t in tables:
        by_name = {r["name"]: r["test_mse_vs_sin"] for r in t}
        for name, mse in by_name.items():
            if " distilled" in name:
                alone = by_name[name.split(" distilled")[0] + " alone"]
                wins += mse < alone
                ratios.append(1 - mse / alone)
    print(f"distilled better than alone in {wins} of {len(ratios)} cases; error lower by "
          f"{np.mean(ratios):.1%} on average, at most {max(ratios):.1%}, "
          f"at worst {min(ratios):+.1%}")


def _spiral(seeds: list[int], teacher_dropout: float) -> None:
    tables = [distillation.spiral_distillation_table(seed, teacher_dropout=teacher_dropout)
              for seed in seeds]
    print(f"\nspiral, teacher dropout {teacher_dropout}: test accuracy (training accuracy)")
    print(f"{'model':<32}" + "".join(f"{f'seed {s}':>16}" for s in seeds) + f"{'mean':>16}")
    for i, r in enumerate(tables[0]):
        test = [t[i]["test_accuracy"] for t in tables]
        train = [t[i]["train_accuracy"] for t in tables]
        cells = "".join(f"{f'{a:.1%} ({b:.0%})':>16}" for a, b in zip(test, train, strict=True))
        print(f"{r['name']:<32}{cells}{f'{np.mean(test):.1%} ({np.mean(train):.0%})':>16}")
    gains = [100 * (t[2]["test_accuracy"] - t[1]["test_accuracy"]) for t in tables]
    print(f"distillation gain: {np.mean(gains):+.1f} points on average, from {min(gains):+.1f} "
          f"to {max(gains):+.1f}; better on {sum(g > 0 for g in gains)} of {len(gains)} seeds")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    env.setup(args.seeds[0])
    start = time.perf_counter()
    _sine(args.seeds)
    _spiral(args.seeds, distillation.SPIRAL_TEACHER_DROPOUT)
    _spiral(args.seeds, 0.0)
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
