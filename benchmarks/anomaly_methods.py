"""Lesson 07's detectors side by side over several seeds: AUC, precision and recall of one
Mahalanobis ellipse, one ellipse per fan speed (nearest, or the known speed's), one ellipse
per k-means cluster, and the autoencoder, with a fixed mount and with the sensor moved around.

Run: `.venv/bin/python benchmarks/anomaly_methods.py [--seeds 0 1 2 3 4] [--epochs 150]`.
Each seed generates fresh data (normal windows only for training and validation); the test set
has 270 normal windows per speed and 40 coin windows at low, medium and high speed, so 10 % of
it are anomalies. Precision and recall are at the 99th percentile of normal validation scores.
The table shows the mean over seeds and [min, max].
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from tinyml_helpers import anomaly
from tinyml_helpers.deploy import env


def _cell(values) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{np.nanmean(v):.3f} [{np.nanmin(v):.3f}, {np.nanmax(v):.3f}]"


def main(argv=None) -> int:
    """Print the table; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--test-normal-per-speed", type=int, default=270)
    args = parser.parse_args(argv)
    env.setup(args.seeds[0])
    started = time.perf_counter()
    runs = {robust: [anomaly.compare(robust, seed, epochs=args.epochs,
                                     test_normal_per_speed=args.test_normal_per_speed)
                     for seed in args.seeds] for robust in (False, True)}
    share = runs[False][0]["autoencoder"].confusion[1].sum() / \
        runs[False][0]["autoencoder"].confusion.sum()
    print(f"seeds {', '.join(map(str, args.seeds))}; anomalies {share:.1%} of each test set; "
          "mean [min, max] over seeds")
    header = f"{'mode':<6} {'method':<31} | {'AUC':^22} | {'precision':^22} | {'recall':^22}"
    print(header)
    print("-" * len(header))
    for robust, results in runs.items():
        for method in anomaly.METHODS:
            m = [r[method] for r in results]
            print(f"{'robust' if robust else 'fixed':<6} {method:<31} | "
                  f"{_cell([x.auc for x in m]):^22} | {_cell([x.precision for x in m]):^22} | "
                  f"{_cell([x.recall for x in m]):^22}")
    print(f"\n{2 * len(args.seeds)} runs, {args.epochs} epochs each, "
          f"{time.perf_counter() - started:.0f} s on {os.cpu_count()} CPU cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
