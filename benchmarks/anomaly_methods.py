"""Lesson 07's detectors side by side over several seeds, on Shawn Hymel's real ceiling-fan
recordings and on the simulated fan: AUC, average precision (AP), precision, recall and the
false-alarm rate of one Mahalanobis ellipse, one ellipse per fan speed (nearest, or the known
speed's), one ellipse per k-means cluster, and the autoencoder.

Data sets:
- ``real``: ``fan_recordings.split`` (each recording split by recording order: first 50 % train,
  next 20 % validation, last 30 % test; 26 coin windows per speed from the coin recordings'
  last 30 %, about 10 % of the test set);
- ``real + moving``: the same, with Hymel's moving-fan recording split the same way and added
  to training, validation and the normal test windows;
- ``simulated``, ``simulated, sensor moved``: ``vibration.dataset`` (150 normal windows per speed,
  270 normal test windows per speed, 40 coins per speed: 10 % of the test set), fixed mount and
  robust mode.

On the simulated fan it also measures what real data cannot: recall against coin size
(``anomaly.SEVERITIES``) and false alarms and recall on mounts never seen in training
(``anomaly.UNSEEN_MOUNTS``).

The real data are the same for every seed: there a seed changes the autoencoder's random start
and k-means' start only. Thresholds are the 99th percentile of normal validation scores.

The autoencoder is trained as in the lesson: one random start, hidden biases starting at
``anomaly.HIDDEN_BIAS``. On the real and the simulated fixed-mount data two other recipes are
measured from the same seeds: Keras' zero start for the biases, and the same keeping the best of
3 starts by validation loss. Dead ReLU units are counted for each.

Run: ``.venv/bin/python benchmarks/anomaly_methods.py [--seeds 0 1 2 3 4] [--write]`` (about
5 minutes on 2 cores). ``--write`` stores every number in
tinyml_helpers/measured/anomaly_methods.json, which lesson 07 prints beside its live seed.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from tinyml_helpers import anomaly, fan_recordings, measurements, vibration
from tinyml_helpers.deploy import env
from tinyml_helpers.deploy.files import write_atomic

DATASETS = ("real", "real + moving", "simulated", "simulated, sensor moved")
METRICS = ("auc", "ap", "precision", "recall", "false_alarms")
RESTARTS = 3  # also measured on real and simulated data: the best of 3 starts by validation loss


def datasets(seed: int) -> dict[str, object]:
    """Return {name: vibration.FanData} for every data set of :data:`DATASETS`."""
    rec = fan_recordings.load()
    return {"real": fan_recordings.split(rec),
            "real + moving": fan_recordings.split(rec, moving=True),
            "simulated": vibration.dataset(150, 40, robust=False, seed=seed,
                                           test_normal_per_speed=270),
            "simulated, sensor moved": vibration.dataset(150, 40, robust=True, seed=seed,
                                                         test_normal_per_speed=270)}


def run_seed(seed: int, epochs: int) -> dict:
    """Return one seed's record: every data set's metrics, the severity sweep and the mounts."""
    record = {"metrics": {}, "dead_units": {}}
    for name, fan in datasets(seed).items():
        found = anomaly.fit_detectors(fan, seed, epochs)
        record["metrics"][name] = {method: {k: float(getattr(m, k)) for k in METRICS}
                                   for method, m in anomaly.evaluate_all(found, fan).items()}
        z_train = found.scale(vibration.features(fan.x_train))
        record["dead_units"][name] = anomaly.dead_units(found.autoencoder, z_train)
        if name in ("real", "simulated"):  # the autoencoder's other recipes, same seed
            z_val, z_test = (found.scale(vibration.features(x)) for x in (fan.x_val, fan.x_test))
            for label, restarts in (("zero bias", 1), (f"zero bias, best of {RESTARTS}",
                                                       RESTARTS)):
                other, _ = anomaly.train_autoencoder(z_train, z_val, epochs, seed=seed,
                                                     restarts=restarts, hidden_bias=0.0)
                scores = [anomaly.reconstruction_error(z, other.predict(z, verbose=0))
                          for z in (z_val, z_test)]
                m = anomaly.evaluate(*scores, fan.y_test)
                record.setdefault("autoencoder_recipes", {}).setdefault(name, {})[label] = {
                    **{k: float(getattr(m, k)) for k in METRICS},
                    "dead_units": anomaly.dead_units(other, z_train)}
        if name == "simulated":
            limit = anomaly.limits(found, fan)
            record["severity_recall"] = anomaly.severity_recall(found, limit, seed)
            record["unseen_mounts"] = {f"{hz:g}": anomaly.unseen_mount(found, limit, hz, seed)
                                       for hz in anomaly.UNSEEN_MOUNTS}
    return record


def _cell(values) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{np.nanmean(v):.3f} [{np.nanmin(v):.3f}, {np.nanmax(v):.3f}]"


def print_tables(result: dict) -> None:
    """Print the metrics table, the severity sweep and the unseen mounts (mean [min, max])."""
    runs = result["runs"]
    print(f"seeds {', '.join(map(str, result['seeds']))}; mean [min, max] over seeds")
    header = (f"{'data':<24} {'method':<31} | {'AUC':^21} | {'AP':^21} | {'precision':^21} | "
              f"{'recall':^21} | {'false alarms':^21}")
    print(header)
    print("-" * len(header))
    for name in DATASETS:
        for method in anomaly.METHODS:
            cells = [_cell([r["metrics"][name][method][k] for r in runs]) for k in METRICS]
            print(f"{name:<24} {method:<31} | " + " | ".join(f"{c:^21}" for c in cells))
    print(f"\nthe autoencoder's recipes (hidden biases start at {result['hidden_bias']} in the "
          "tables above; Keras starts them at 0):")
    for name in ("real", "simulated"):
        rows = {f"bias {result['hidden_bias']}": [
            {**r["metrics"][name]["autoencoder"], "dead_units": r["dead_units"][name]}
            for r in runs]}
        for label in runs[0]["autoencoder_recipes"][name]:
            rows[label] = [r["autoencoder_recipes"][name][label] for r in runs]
        for label, found in rows.items():
            print(f"  {name:<10} {label:<22} AUC {_cell([x['auc'] for x in found])}  "
                  f"AP {_cell([x['ap'] for x in found])}  dead units "
                  + " ".join(str(x["dead_units"]) for x in found))
    print("\nsimulated fan, recall against coin size (1.0 = the lesson's coin):")
    print(f"{'method':<31} | " + " | ".join(f"{s:^21g}" for s in anomaly.SEVERITIES))
    for method in anomaly.METHODS:
        print(f"{method:<31} | " + " | ".join(
            f"{_cell([r['severity_recall'][method][i] for r in runs]):^21}"
            for i in range(len(anomaly.SEVERITIES))))
    print("\nsimulated fan, a mount never seen in training (trained at 9 Hz): "
          "false alarms / recall")
    for hz in anomaly.UNSEEN_MOUNTS:
        for method in anomaly.METHODS:
            fa = _cell([r["unseen_mounts"][f"{hz:g}"][method][0] for r in runs])
            rc = _cell([r["unseen_mounts"][f"{hz:g}"][method][1] for r in runs])
            print(f"  {hz:>4g} Hz {method:<31} false alarms {fa:<21} recall {rc}")


def main(argv=None) -> int:
    """Measure, print the tables, and with --write store them; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--write", action="store_true",
                        help=f"store the result in {measurements.ANOMALY_METHODS}")
    args = parser.parse_args(argv)
    env.setup(args.seeds[0])
    started = time.perf_counter()
    runs = []
    for seed in args.seeds:
        runs.append(run_seed(seed, args.epochs))
        print(f"seed {seed} done ({time.perf_counter() - started:.0f} s)", flush=True)
    result = {"seeds": args.seeds, "epochs": args.epochs, "restarts": RESTARTS,
              "hidden_bias": anomaly.HIDDEN_BIAS,
              "percentile": 99.0, "datasets": list(DATASETS), "methods": list(anomaly.METHODS),
              "severities": list(anomaly.SEVERITIES),
              "unseen_mounts": list(anomaly.UNSEEN_MOUNTS), "runs": runs,
              "command": "benchmarks/anomaly_methods.py --write"}
    print_tables(result)
    print(f"\n{len(args.seeds) * len(DATASETS)} fits ({args.epochs} epochs) and "
          f"{2 * len(args.seeds) * (1 + RESTARTS)} more autoencoders, "
          f"{time.perf_counter() - started:.0f} s on {os.cpu_count()} CPU cores")
    if args.write:
        write_atomic(measurements.ANOMALY_METHODS, json.dumps(result, indent=1) + "\n")
        print(f"wrote {measurements.ANOMALY_METHODS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
