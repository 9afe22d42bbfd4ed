"""Lesson 07's detectors on the simulated fan: AUC of Mahalanobis distance and of the
autoencoder, on fixed-mount ("normal") and moved-around ("robust") data, over several seeds.

Run: `.venv/bin/python benchmarks/anomaly_auc.py [--seeds 0 1 2] [--epochs 150]`. Each row
generates fresh data, fits both detectors on normal windows only, and scores the labelled test
windows (120 normal, 120 with the coin at low/medium/high speed). The confusion columns use the
99th percentile of normal validation scores as threshold: [false alarms, missed coins].
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from tinyml_helpers import anomaly
from tinyml_helpers.deploy import env


def main(argv=None) -> int:
    """Print the AUC table; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=150)
    args = parser.parse_args(argv)
    env.setup(args.seeds[0])
    rows = []
    started = time.perf_counter()
    print(f"{'mode':<7} {'seed':>4} | {'AUC Mahalanobis':>15} {'AUC autoencoder':>15} | "
          f"{'FP/FN Mahal.':>12} {'FP/FN AE':>9}")
    print("-" * 72)
    for robust in (False, True):
        for seed in args.seeds:
            r = anomaly.experiment(robust, seed, epochs=args.epochs)
            rows.append(r)
            cm, ca = r.confusion_mahalanobis, r.confusion_autoencoder
            print(f"{'robust' if robust else 'normal':<7} {seed:>4} | {r.auc_mahalanobis:>15.3f} "
                  f"{r.auc_autoencoder:>15.3f} | {f'{cm[0, 1]}/{cm[1, 0]}':>12} "
                  f"{f'{ca[0, 1]}/{ca[1, 0]}':>9}")
    print("-" * 72)
    for robust in (False, True):
        sel = [r for r in rows if r.robust == robust]
        m = np.array([r.auc_mahalanobis for r in sel])
        a = np.array([r.auc_autoencoder for r in sel])
        print(f"{'robust' if robust else 'normal':<7} {'mean':>4} | "
              f"{f'{m.mean():.3f} ± {m.std():.3f}':>15} {f'{a.mean():.3f} ± {a.std():.3f}':>15} |")
    print(f"\n{len(rows)} runs, {args.epochs} epochs each, {time.perf_counter() - started:.0f} s "
          f"on {os.cpu_count()} CPU cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
