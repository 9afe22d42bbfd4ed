"""Lesson 01's recipe against dead neurons, measured over seeds.

For each seed it trains the 1-16-16-1 sine model (1,000 samples, noise 0.1, 500 epochs, Adam,
batch 64) three ways from the same Keras initial kernels:

- ``zero biases``: Keras' own start, Adam at 0.01 (the course's model until 2026-11-30);
- ``spread bends``: ``models.sine_model`` (first-layer bends spread over the data by
  ``models.spread_kinks``), Adam at a constant 0.005 (the course's model until 2026-12-07);
- ``+ cosine, revive``: the same start, trained as lesson 01 does now, with
  ``models.sine_callbacks``: the learning rate falls along a cosine from 0.005 to 0.00005 and
  every 10 epochs up to epoch 450 ``models.revive_dead_neurons`` restarts any dead neuron.

It prints, per seed, the first-layer neurons dead at the start, the live neurons per hidden
layer after training (``pruning.live_neurons``) and the test MSE against the true sine, then
mean [min, max] per recipe. ``--write`` stores the rows in ``measured/sine_init.json``, which
lesson 01 prints. About two minutes on two cores:
``.venv/bin/python benchmarks/sine_init.py [--seeds 0 1 ...] [--write]``.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from tinyml_helpers import data, measurements, models, pruning
from tinyml_helpers.deploy import env, files

RECIPES = {
    "zero biases": "Keras' zero biases, Adam at a constant 0.01",
    "spread bends": "bends spread over the data, Adam at a constant 0.005",
    "+ cosine, revive": "bends spread, cosine learning rate from 0.005, dead neurons revived",
}


def dead_at_start(model, x) -> int:
    """Return how many first-layer neurons output 0 for every x."""
    kernel, bias = model.get_layer("dense_1").get_weights()
    return int(np.sum(np.maximum(x @ kernel + bias, 0).max(axis=0) == 0))


def run(seed: int, recipe: str) -> dict:
    """Train one model; return its row: dead at start, live per layer after, test MSE vs sin."""
    env.setup(seed)
    split = data.sine_dataset(1000, noise=0.1, seed=seed)
    callbacks = []
    if recipe == "zero biases":
        model = models.mlp((1, 16, 16, 1), name="sine")
        models.compile_regression(model, 0.01)
    else:
        model = models.sine_model(seed=seed)
        if recipe == "+ cosine, revive":
            callbacks = models.sine_callbacks(split.x_train, 500, seed)
    dead = dead_at_start(model, split.x_train)
    models.fit(model, split, epochs=500, batch_size=64, progress=False, callbacks=callbacks)
    row = {"seed": seed, "recipe": recipe, "dead_at_start": dead,
           "live": pruning.live_neurons(model, split.x_train),
           "mse_vs_sin": pruning.model_mse_vs_sin(model, split.x_test)}
    if callbacks:
        row["revived"] = callbacks[-1].revived
    return row


def summary(rows: list[dict]) -> dict:
    """Return, per recipe, mean [min, max] texts and counts over the seeds of ``rows``."""
    out = {}
    for recipe in RECIPES:
        mine = [row for row in rows if row["recipe"] == recipe]
        live = np.array([row["live"] for row in mine])
        out[recipe] = {
            "dead_at_start": measurements.spread_text([row["dead_at_start"] for row in mine], 1, 0),
            "live_layer_1": measurements.spread_text(live[:, 0], 1, 0),
            "live_layer_2": measurements.spread_text(live[:, 1], 1, 0),
            "all_live": int(np.sum(live.min(axis=1) == 16)),
            "mse_vs_sin": measurements.spread_text([row["mse_vs_sin"] for row in mine], 5),
            "seeds": len(mine),
        }
    return out


def table(rows: list[dict]) -> str:
    """Return the per-seed and mean [min, max] table of ``rows`` as text."""
    lines = [f"{'seed':>4}  {'recipe':<17} {'dead@0':>6} {'live after':>11} {'MSE vs sin':>11}"]
    for row in rows:
        lines.append(f"{row['seed']:>4}  {row['recipe']:<17} {row['dead_at_start']:>6} "
                     f"{str(row['live']):>11} {row['mse_vs_sin']:>11.5f}")
    lines.append("")
    lines.append(f"{'recipe':<17} {'dead@0':>13} {'live, layer 1':>17} {'live, layer 2':>17} "
                 f"{'all 16+16':>9} {'MSE vs sin':>28}")
    for recipe, s in summary(rows).items():
        lines.append(f"{recipe:<17} {s['dead_at_start']:>13} {s['live_layer_1']:>17} "
                     f"{s['live_layer_2']:>17} {s['all_live']:>4} of {s['seeds']:<2} "
                     f"{s['mse_vs_sin']:>28}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--write", action="store_true",
                        help=f"store the rows in {measurements.SINE_INIT}")
    args = parser.parse_args(argv)
    rows = []
    for seed in args.seeds:
        for recipe in RECIPES:
            rows.append(run(seed, recipe))
            row = rows[-1]
            print(f"seed {seed}, {recipe}: live {row['live']}, MSE vs sin "
                  f"{row['mse_vs_sin']:.5f}", file=sys.stderr, flush=True)
    print(table(rows))
    if args.write:
        record = {"command": measurements.command(measurements.SINE_INIT)
                  if args.seeds == list(range(10)) else
                  f".venv/bin/python benchmarks/sine_init.py --seeds "
                  f"{' '.join(map(str, args.seeds))} --write",
                  "recipes": RECIPES, "rows": rows, "summary": summary(rows)}
        files.write_atomic(measurements.SINE_INIT, json.dumps(record, indent=1) + "\n")
        print(f"wrote {measurements.SINE_INIT}")


if __name__ == "__main__":
    main()
