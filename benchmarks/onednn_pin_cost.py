"""What capping oneDNN at SSE4.1 (``env.PINNED_ENV``) costs: lesson 01's training, timed.

Run: `.venv/bin/python benchmarks/onednn_pin_cost.py [--runs 3] [--epochs 500]`. Each run is
a fresh process that trains the 1-16-16-1 sine model the way lesson 01 does (600 samples,
batch 64, Adam 0.01), once with oneDNN free to use the best instruction set of this CPU and
once capped at SSE4.1, alternating. It prints the training seconds (median, min, max) and
whether the trained weights differ: they do wherever the CPU has AVX2 or better.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

TRAIN = """
import hashlib, os, sys, time
os.environ.update(TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1",
                  TF_ENABLE_ONEDNN_OPTS="0")
import numpy as np
import tensorflow as tf
from tinyml_helpers import data
tf.keras.utils.set_random_seed(0)
tf.config.experimental.enable_op_determinism()
split = data.sine_dataset(seed=0)
layers = tf.keras.layers
model = tf.keras.Sequential([tf.keras.Input((1,)), layers.Dense(16, activation="relu"),
                             layers.Dense(16, activation="relu"), layers.Dense(1)])
model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
start = time.perf_counter()
model.fit(split.x_train, split.y_train, epochs=int(sys.argv[1]), batch_size=64, verbose=0)
seconds = time.perf_counter() - start
print(seconds, hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()[:8])
"""

CAPS = {"best for this CPU": None, "capped at SSE4.1": "SSE41"}


def train(cap: str | None, epochs: int) -> tuple[float, str]:
    """Return (training seconds, weight digest) of one fresh process under ``cap``."""
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
    if cap:
        env["ONEDNN_MAX_CPU_ISA"] = cap
    run = subprocess.run([sys.executable, "-c", TRAIN, str(epochs)], env=env, check=True,
                         capture_output=True, text=True)
    seconds, digest = run.stdout.split()[-2:]
    return float(seconds), digest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=500)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.epochs < 1:
        parser.error("--runs and --epochs must be at least 1")
    results = {name: [] for name in CAPS}
    for _ in range(args.runs):
        for name, cap in CAPS.items():
            results[name].append(train(cap, args.epochs))
    print(f"lesson 01 training, {args.epochs} epochs, {args.runs} runs each")
    print(f"{'oneDNN':<20}{'median s':>10}{'min s':>8}{'max s':>8}  weights")
    for name, runs in results.items():
        seconds = [s for s, _ in runs]
        digests = sorted({d for _, d in runs})
        print(f"{name:<20}{statistics.median(seconds):>10.2f}{min(seconds):>8.2f}"
              f"{max(seconds):>8.2f}  {', '.join(digests)}")
    best, capped = (statistics.median(s for s, _ in results[n]) for n in CAPS)
    print(f"cost of the cap: {capped - best:+.2f} s ({capped / best - 1:+.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
