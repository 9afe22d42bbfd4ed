"""Compression trade-offs of the sine model, measured: pruning, quantization, distillation.

Prints three tables (bytes and test MSE vs the true sine, seed 0): the pruning sweep and the
neuron-pruned model (lesson 03), float vs PTQ variants vs QAT (lesson 04), teacher vs students
(lesson 05). About 2-3 minutes on two cores: `.venv/bin/python benchmarks/compression.py`.
"""

from __future__ import annotations

import sys
import time

from tinyml_helpers import distillation, models, pruning, quantization, sizing
from tinyml_helpers.deploy import env

SPARSITIES = (0.0, 0.25, 0.4, 0.5, 0.7, 0.8, 0.9, 0.95)


def pruning_tables(model, split) -> str:
    """Return the sparsity sweep and the neuron-pruning comparison as text."""
    text = []
    for label, layers in (("all layers", None), ("dense_2 only", ["dense_2"])):
        rows = pruning.sweep(model, split, SPARSITIES, layers=layers, seed=0)
        dense_mse = rows[0]["test_mse_vs_sin"]
        knee = max((r["overall_sparsity"] for r in rows
                    if r["test_mse_vs_sin"] <= 2 * dense_mse), default=0.0)  # vs retrained
        text += [f"-- pruning {label} (80 fine-tune epochs) --", pruning.format_sweep(rows),
                 (f"largest overall sparsity with MSE within 2x of dense "
                  f"retrained ({2 * dense_mse:.5f}): {knee:.1%}")]
    text.append("-- removing whole neurons (float32; 'retrained': + 80 epochs, masks held) --")
    live = pruning.live_neurons(model, split.x_train)
    text.append(f"live neurons per hidden layer (output varies over the training x): {live}")
    retrained = pruning.finetune_masked(model, split, epochs=80, seed=0)
    for keep, x, retrain, how in (
            ((12, 12), split.x_train, True, "by activation, retrained"),
            ((8, 8), None, True, "by weight norm, retrained"),
            ((8, 8), split.x_train, True, "by activation, retrained")):
        small = pruning.neuron_prune(model, keep, x)
        if retrain:
            small = pruning.finetune_masked(small, split, epochs=80, seed=0)
        widths = [1, *keep, 1]
        name = "-".join(map(str, widths))
        text.append(f"{name:<10} {how:<33} {sizing.count_params(widths):>4} params "
                    f"{sizing.model_bytes(widths):>5} B  MSE vs sin "
                    f"{pruning.model_mse_vs_sin(small, split.x_test):.5f}")
    for model_, how in ((model, "dense, as trained"), (retrained, "dense, retrained")):
        text.append(f"{'1-16-16-1':<10} {how:<33}  321 params  1284 B  MSE vs sin "
                    f"{pruning.model_mse_vs_sin(model_, split.x_test):.5f}")
    return "\n".join(text)


def main() -> int:
    """Print all three tables; return 0."""
    env.setup(0)
    start = time.perf_counter()
    model, split = models.trained_sine_model(0)
    print("== Pruning (lesson 03) ==")
    print(pruning_tables(model, split))
    print("\n== Quantization (lesson 04) ==")
    rows = quantization.ptq_table(model, split)
    rows.append(quantization.qat_row(model, split, epochs=20, seed=0))
    print(quantization.format_rows(rows))
    print("\n== Distillation (lesson 05) ==")
    print(f"{'model':<34}{'params':>7}{'bytes':>7}{'MSE vs sin':>12}")
    for r in distillation.sine_distillation_table(0):
        print(f"{r['name']:<34}{r['params']:>7}{r['bytes']:>7}{r['test_mse_vs_sin']:>12.5f}")
    print(f"\n{'model':<32}{'params':>7}{'bytes':>7}{'test accuracy':>15}")
    for r in distillation.spiral_distillation_table(0):
        print(f"{r['name']:<32}{r['params']:>7}{r['bytes']:>7}{r['test_accuracy']:>15.1%}")
    print(f"\n(total {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
