"""What the TFLM sketch's per-tensor Dense quantization costs against per-channel, over seeds.

The ESP32's TFLite Micro before esp-tflite-micro 1.3.4 computes per-channel Dense layers wrong
with ESP-NN (benchmarks/esp32_tflm_kernels.py), so the TFLM sketch runs the same network
converted with one weight scale per layer. For seeds 0-4 this trains lesson 01's model
(``models.trained_sine_model``), converts it to full int8 both ways (the representative data of
lesson 06) and prints each one's test MSE against sin(x) with TFLM's integer arithmetic, the
file sizes and the largest difference between the two predictions on the test inputs.

Run: ``.venv/bin/python benchmarks/per_tensor_cost.py [--seeds 0 1 2 3 4] [--write]``
(about a minute on two cores). ``--write`` stores the result in
tinyml_helpers/measured/per_tensor_cost.json, which lesson 06 prints beside its live seed
(tests/test_esp32_kernels.py recomputes seed 0 and compares).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from tinyml_helpers import measurements, models, quantization
from tinyml_helpers.deploy import env, files, litert


def measure(seed: int) -> dict:
    """Train seed ``seed``'s model and return :func:`quantization.per_tensor_cost` for it."""
    env.setup(seed)
    model, split = models.trained_sine_model(seed)
    representative = np.linspace(0, 2 * np.pi, 500, dtype=np.float32).reshape(-1, 1)
    per_channel = litert.convert(model, "int8", representative)
    per_tensor = litert.convert(model, "int8", representative, per_channel=False)
    return quantization.per_tensor_cost(per_channel, per_tensor, split.x_test)


def summary(record: dict) -> str:
    """Return the per-seed table and the mean [min, max] lines."""
    lines = ["| seed | MSE per-channel | MSE per-tensor | ratio | max |Δy| |",
             "|---|---|---|---|---|"]
    for seed, r in record["seeds"].items():
        pc, pt = r["per_channel"]["mse"], r["per_tensor"]["mse"]
        lines.append(f"| {seed} | {pc:.5f} | {pt:.5f} | {pt / pc:.2f} | "
                     f"{r['max_difference']:.3f} |")
    for key, label in (("ratio", "MSE per-tensor / per-channel"),
                       ("max_difference", "largest |Δy|")):
        values = stats(record, key)
        lines.append(f"{label}: mean {values['mean']:.3f} [{values['min']:.3f}, "
                     f"{values['max']:.3f}]")
    return "\n".join(lines)


def stats(record: dict, key: str) -> dict:
    """Return mean, min and max over the seeds of ``key`` ("ratio" or "max_difference")."""
    if key == "ratio":
        values = [r["per_tensor"]["mse"] / r["per_channel"]["mse"]
                  for r in record["seeds"].values()]
    else:
        values = [r[key] for r in record["seeds"].values()]
    return {"mean": float(np.mean(values)), "min": float(min(values)),
            "max": float(max(values))}


def main(argv: list[str]) -> int:
    """Measure, print, and with --write store."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--write", action="store_true",
                        help=f"store the result in {measurements.PER_TENSOR_COST}")
    args = parser.parse_args(argv)
    record = {"seeds": {}}
    for seed in args.seeds:
        record["seeds"][str(seed)] = measure(seed)
        print(f"seed {seed} done", flush=True)
    print(summary(record))
    if args.write:
        text = json.dumps(record, indent=1) + "\n"
        files.write_files(measurements.FOLDER, {measurements.PER_TENSOR_COST.name: text})
        print(f"wrote {measurements.PER_TENSOR_COST}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
