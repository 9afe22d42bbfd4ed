"""Why lesson 01 spreads the first layer's bend points: dead neurons and test error, measured.

For seeds 0-4 it trains the 1-16-16-1 sine model (1,000 samples, noise 0.1, 500 epochs, Adam,
batch 64) twice from the same Keras initial kernels: once with Keras' zero biases at Adam's
0.01 (the course's model before the change), once as ``models.sine_model`` builds it (biases
set by ``models.spread_kinks``, Adam at 0.005). It prints, per seed, the first-layer neurons
dead at the start, the live neurons per hidden layer after training
(``pruning.live_neurons``) and the test MSE against the true sine.
About a minute on two cores: ``.venv/bin/python benchmarks/sine_init.py [--seeds 0 1 2 3 4]``.
"""

from __future__ import annotations

import argparse

import numpy as np

from tinyml_helpers import data, models, pruning
from tinyml_helpers.deploy import env


def dead_at_start(model, x) -> int:
    """Return how many first-layer neurons output 0 for every x."""
    kernel, bias = model.get_layer("dense_1").get_weights()
    return int(np.sum(np.maximum(x @ kernel + bias, 0).max(axis=0) == 0))


def run(seed: int, spread: bool) -> tuple[int, list[int], float]:
    """Train one model; return (dead at start, live per layer after, test MSE vs sin)."""
    env.setup(seed)
    split = data.sine_dataset(1000, noise=0.1, seed=seed)
    if spread:
        model = models.sine_model(seed=seed)
    else:
        model = models.mlp((1, 16, 16, 1), name="sine")
        models.compile_regression(model, 0.01)
    dead = dead_at_start(model, split.x_train)
    models.fit(model, split, epochs=500, batch_size=64, progress=False)
    return dead, pruning.live_neurons(model, split.x_train), pruning.model_mse_vs_sin(
        model, split.x_test)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    header = (f"{'seed':>4} | {'zero biases, lr 0.01':^32} | {'spread bends, lr 0.005':^32}\n"
              f"{'':>4} | {'dead@0':>6} {'live after':>12} {'MSE vs sin':>11} | "
              f"{'dead@0':>6} {'live after':>12} {'MSE vs sin':>11}")
    print(header)
    print("-" * len(header.splitlines()[1]))
    totals = {False: [], True: []}
    for seed in args.seeds:
        cells = []
        for spread in (False, True):
            dead, live, mse = run(seed, spread)
            totals[spread].append((live, mse))
            cells.append(f"{dead:>6} {str(live):>12} {mse:>11.5f}")
        print(f"{seed:>4} | {cells[0]} | {cells[1]}", flush=True)
    print("-" * len(header.splitlines()[1]))
    for spread, label in ((False, "zero biases, lr 0.01"), (True, "spread bends, lr 0.005")):
        live = np.array([t[0] for t in totals[spread]])
        mse = np.array([t[1] for t in totals[spread]])
        print(f"{label:<24} live per layer, mean {live.mean(axis=0).round(1).tolist()}; "
              f"MSE vs sin mean {mse.mean():.5f}, worst {mse.max():.5f}")


if __name__ == "__main__":
    main()
