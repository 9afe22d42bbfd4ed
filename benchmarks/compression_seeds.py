"""Lessons 03 and 04's training-dependent figures over several seeds: is one seed's result luck?

For each seed it retrains lesson 01's model (``models.trained_sine_model(seed)``) and computes
what lesson 03 (pruning) and lesson 04 (quantization) print from it, the same way the lessons
do (the same helpers, settings and formulas):

- 03: the one-shot and retrained errors of 70 % of dense_2 (section 2), the three kinds of
  pruning at 50 % before retraining (section 3), the trained model's live neurons and what
  magnitude pruning does to dense_1 (section 5), both sparsity sweeps with their knee
  (section 5), the neuron-pruned models (section 6c) and the 2:4 mask (Going deeper);
- 04: section 5's largest int32 accumulator, the four post-training modes (section 6), the
  1-128-128-1 network (section 6), PTQ against QAT with the fine-tuned float control
  (section 8), the cost of each rounding of the int8 model (Going deeper D) and where QAT
  starts from with calibrated ranges (Going deeper E).

Run: ``.venv/bin/python benchmarks/compression_seeds.py [--seeds 0 1 ... 9] [--write]`` (about
25 s per seed on two cores: seeds 0-9, the default, took 220 s). It prints mean [min, max] over
the seeds; ``--write`` stores every seed's figures in
tinyml_helpers/measured/compression_seeds.json (a temporary file, then a rename), which lessons
03 and 04 print beside their live seed (``pruning.seeds_table``, ``quantization.seeds_table``).
A seed's figures do not depend on which seeds ran before it in the same process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from tinyml_helpers import models, pruning, quantization
from tinyml_helpers.deploy import env, files, litert

# The lessons' settings (their parameters cells).
L03 = {"finetune_epochs": 80, "demo_sparsity": 0.7, "kinds_sparsity": 0.5,
       "sparsities": [0.0, 0.25, 0.4, 0.5, 0.7, 0.9],
       "middle_sparsities": [0.5, 0.7, 0.8, 0.9, 0.95]}
# Section 6c: the neurons kept per hidden layer of the smaller models, each retrained.
NEURON_KEEPS = ((12, 12), (8, 8), (6, 6))
L04 = {"qat_epochs": 20, "qat_learning_rate": 3e-4, "wide_epochs": 100, "wide_learning_rate": 0.003}


def _forward(weights, x):
    """Lesson 03's NumPy forward pass: ReLU after every layer but the last."""
    h = x
    for i, (W, b) in enumerate(weights):
        h = h @ W + b
        if i < len(weights) - 1:
            h = np.maximum(0.0, h)
    return h


def _mse(y_pred, x) -> float:
    """Lesson 03's error against the true curve."""
    return float(np.mean((y_pred - np.sin(x)) ** 2))


def _sweep_rows(rows, reference: float) -> list[dict]:
    return [{"sparsity": r["sparsity"], "overall_sparsity": r["overall_sparsity"],
             "layer_sparsity": r["layer_sparsity"], "live_neurons": r["live_neurons"],
             "test_mse_vs_sin": r["test_mse_vs_sin"],
             "vs_retrained": r["test_mse_vs_sin"] / reference} for r in rows]


def lesson03(model, split, seed: int) -> dict:
    """Return lesson 03's figures for the model trained from ``seed``."""
    s = L03
    epochs = s["finetune_epochs"]
    x_test = split.x_test
    weights = models.dense_weights(model)
    (W1, b1), (W2, b2), (W3, b3) = weights
    dense_mse = _mse(_forward(weights, x_test), x_test)
    # section 2: rank, remove, retrain
    mask = pruning.magnitude_mask(W2, s["demo_sparsity"])
    one_shot = _mse(_forward([weights[0], (W2 * mask, b2), weights[2]], x_test), x_test)
    pruned_model = pruning.prune_weights(model, s["demo_sparsity"], layers=["dense_2"])
    tuned = pruning.finetune_masked(pruned_model, split, epochs=epochs, seed=seed)
    retrained = pruning.finetune_masked(model, split, epochs=epochs, seed=seed)
    tuned_mse = pruning.model_mse_vs_sin(tuned, x_test)
    retrained_mse = pruning.model_mse_vs_sin(retrained, x_test)
    # section 3: three kinds at kinds_sparsity, one shot
    fraction = s["kinds_sparsity"]
    norms = np.linalg.norm(W2, axis=0)
    keep_neurons = np.ones(W2.shape[1], dtype=bool)
    keep_neurons[np.argsort(norms, kind="stable")[: round(fraction * W2.shape[1])]] = False
    blocks = W2.reshape(W2.shape[0] // 4, 4, W2.shape[1])
    block_keep = np.repeat(pruning.magnitude_mask(np.linalg.norm(blocks, axis=1), fraction), 4,
                           axis=0)
    kinds = {
        "weight": [weights[0], (W2 * pruning.magnitude_mask(W2, fraction), b2), weights[2]],
        "neuron": [weights[0], (W2 * keep_neurons, b2 * keep_neurons),
                   (W3 * keep_neurons[:, None], b3)],
        "block 4x1": [weights[0], (W2 * block_keep, b2), weights[2]],
    }
    kind_vs_dense = {k: _mse(_forward(net, x_test), x_test) / dense_mse for k, net in kinds.items()}
    h1 = np.maximum(0.0, split.x_train @ W1 + b1)
    h2 = np.maximum(0.0, h1 @ W2 + b2)
    live1, live2 = np.ptp(h1, axis=0) > 1e-6, np.ptp(h2, axis=0) > 1e-6
    kept1 = pruning.magnitude_mask(W1, 0.5)[0]  # section 5: dense_1 pruned to 50 %
    # section 5: the two sweeps
    uniform = pruning.sweep(model, split, s["sparsities"], epochs=epochs, seed=seed, tflite=False)
    reference = next(r["test_mse_vs_sin"] for r in uniform if r["sparsity"] == 0.0)
    middle = pruning.sweep(model, split, s["middle_sparsities"], epochs=epochs,
                           layers=["dense_2"], seed=seed, tflite=False)
    within = [r for r in uniform if r["test_mse_vs_sin"] <= 2 * reference]
    within_middle = [r for r in middle if r["test_mse_vs_sin"] <= 2 * reference]
    best = max(within_middle, key=lambda r: r["overall_sparsity"], default=None)
    half = next(r for r in uniform if r["sparsity"] == 0.5)
    # section 6c: whole neurons
    live = pruning.live_neurons(model, split.x_train)
    neurons = {}
    for keep in NEURON_KEEPS:
        small = pruning.neuron_prune(model, keep, x=split.x_train)
        before = pruning.model_mse_vs_sin(small, x_test)
        after = pruning.model_mse_vs_sin(
            pruning.finetune_masked(small, split, epochs=epochs, seed=seed), x_test)
        neurons[f"{keep[0]}-{keep[1]}"] = {
            "widths": [1, *keep, 1], "params": small.count_params(), "mse": before,
            "retrained_mse": after, "retrained_vs_retrained_dense": after / retrained_mse}
    # Going deeper: 2:4 against unstructured 50 %, one shot
    groups = np.abs(W2).reshape(4, 4, 16)
    rank_in_group = np.argsort(np.argsort(groups, axis=1, kind="stable"), axis=1, kind="stable")
    mask_2_4 = (rank_in_group >= 2).reshape(16, 16)
    mse_2_4 = _mse(_forward([weights[0], (W2 * mask_2_4, b2), weights[2]], x_test), x_test)
    unstructured = _mse(_forward(kinds["weight"], x_test), x_test)
    return {
        "dense_mse": dense_mse,
        "retrained_mse": retrained_mse,
        "retrained_vs_dense": retrained_mse / dense_mse,
        "one_shot_70_vs_dense": one_shot / dense_mse,
        "tuned_70_vs_retrained": tuned_mse / retrained_mse,
        "kinds_50_vs_dense": kind_vs_dense,
        "retraining_improved_dense": bool(retrained_mse < dense_mse),
        "finer_grain_cheaper": bool(kind_vs_dense["weight"] < kind_vs_dense["block 4x1"]
                                    < kind_vs_dense["neuron"]),
        "weight_cheapest": bool(kind_vs_dense["weight"] == min(kind_vs_dense.values())),
        "weight_below_neuron": bool(kind_vs_dense["weight"] < kind_vs_dense["neuron"]),
        "live_neurons_removed": int(np.sum(live2 & ~keep_neurons)),
        "live_neurons": live,
        "dense_1_dead_kept": int(np.sum(kept1 & ~live1)),
        "dense_1_live_lost": int(np.sum(~kept1 & live1)),
        "uniform": _sweep_rows(uniform, reference),
        "uniform_knee": max(r["overall_sparsity"] for r in within),
        "uniform_50_vs_retrained": half["test_mse_vs_sin"] / retrained_mse,  # as section 4
        "middle": _sweep_rows(middle, reference),
        "middle_best_overall": None if best is None else best["overall_sparsity"],
        "middle_best_dense_2": None if best is None else best["layer_sparsity"]["dense_2"],
        "middle_goes_further": bool(best is not None and best["overall_sparsity"]
                                    > max(r["overall_sparsity"] for r in within)),
        "neurons": neurons,
        "neurons_all_stay_above": bool(all(
            v["retrained_vs_retrained_dense"] > 1 for v in neurons.values())),
        "two_four_vs_unstructured": mse_2_4 / unstructured,
        "two_four_no_worse": bool(mse_2_4 <= unstructured),
    }


def _fake_quant(values, low, high):
    s, zp = quantization.affine_params(low, high, bits=8, signed=True)
    return quantization.dequantize(quantization.quantize(values, s, zp, 8, signed=True), s, zp)


def _layer_outputs(pairs, x):
    outputs, h = [], x
    for i, (W, b) in enumerate(pairs):
        h = h @ W + b
        h = np.maximum(h, 0) if i < len(pairs) - 1 else h
        outputs.append(h)
    return outputs


def _rounding_sources(model, split, representative) -> dict:
    """Going deeper D: what each rounding of the int8 model costs, as the lesson computes it."""
    float_pairs = models.dense_weights(model)
    calibration = [representative] + _layer_outputs(float_pairs, representative)
    ranges = [(a.min(), a.max()) for a in calibration]

    def simulate(x, inputs=True, weights=True, activations=True, output=True):
        pairs = quantization.quantize_model_weights(float_pairs, 8, per_channel=True) \
            if weights else float_pairs
        h = _fake_quant(x, *ranges[0]) if inputs else x
        for i, (W, b) in enumerate(pairs):
            h = h @ W + b
            if i < 2:
                h = np.maximum(h, 0)
                h = _fake_quant(h, *ranges[i + 1]) if activations else h
            elif output:
                h = _fake_quant(h, *ranges[3])
        return h

    fine = np.linspace(0, 2 * np.pi, 2000, dtype=np.float32).reshape(-1, 1)
    unrounded = simulate(fine, inputs=False, weights=False, activations=False, output=False)
    float_error = (unrounded - np.sin(fine)).ravel()
    parts = ["inputs", "weights", "activations", "output"]
    float_mse = quantization.mse_vs_sin(model.predict(split.x_test, verbose=0), split.x_test)
    result = {"change": {}, "sign_changes": {}, "correlation": {}, "mean_over_rms": {}}
    for name in [*parts, "everything"]:
        flags = {part: name in (part, "everything") for part in parts}
        mse = quantization.mse_vs_sin(simulate(split.x_test, **flags), split.x_test)
        result["change"][name] = mse / float_mse - 1
        if name in parts:
            error = (simulate(fine, **flags) - unrounded).ravel()
            result["sign_changes"][name] = quantization.sign_changes(error)
            result["correlation"][name] = float(np.corrcoef(error, float_error)[0, 1])
            result["mean_over_rms"][name] = float(abs(error.mean()) / np.sqrt(np.mean(error**2)))
    result["costliest"] = max(parts, key=result["change"].get)
    result["weights_costliest"] = result["costliest"] == "weights"
    result["others_fewest_sign_changes"] = min(
        v for k, v in result["sign_changes"].items() if k != "weights")
    result["everything_below_costliest"] = bool(
        result["change"]["everything"] < result["change"][result["costliest"]])
    return result


def lesson04(model, split, seed: int) -> dict:
    """Return lesson 04's figures for the model trained from ``seed``."""
    tf = env.import_tf()
    import tensorflow_model_optimization as tfmot

    s = L04
    float_mse = quantization.mse_vs_sin(model.predict(split.x_test, verbose=0), split.x_test)
    # section 5: the int32 accumulator of dense_2
    (W1, b1), (W2, b2), _ = models.dense_weights(model)
    w_scale, w_zp = quantization.affine_params(W2.min(), W2.max(), bits=8, symmetric=True)
    W2_codes = quantization.quantize(W2, w_scale, w_zp, bits=8, signed=True)
    h1 = np.maximum(split.x_test @ W1 + b1, 0)
    x_scale, x_zp = quantization.affine_params(h1.min(), h1.max(), bits=8, signed=True)
    h1_codes = quantization.quantize(h1, x_scale, x_zp, bits=8, signed=True)
    acc = (h1_codes.astype(np.int32) - x_zp) @ W2_codes.astype(np.int32)
    # section 6: the four modes and the wide network
    representative = quantization.sine_representative(split)
    flatbuffers = {mode: litert.convert(model, mode, representative if mode == "int8" else None)
                   for mode in litert.MODES}
    ptq = {mode: quantization.table_row(mode, f, split)["test_mse_vs_sin"]
           for mode, f in flatbuffers.items()}
    env.set_seed(seed)
    wide_model = models.mlp((1, 128, 128, 1), name="wide")
    models.compile_regression(wide_model, s["wide_learning_rate"])
    models.fit(wide_model, split, epochs=s["wide_epochs"], progress=False)
    wide = {mode: quantization.table_row(
        mode, litert.convert(wide_model, mode, representative if mode == "int8" else None),
        split)["test_mse_vs_sin"] for mode in ("float32", "float16", "int8")}

    # section 8: QAT against PTQ, both against the same fine-tune in float
    def fine_tune(net):
        env.set_seed(seed)
        steps = s["qat_epochs"] * int(np.ceil(len(split.x_train) / 64))
        schedule = tf.keras.optimizers.schedules.CosineDecay(s["qat_learning_rate"],
                                                             decay_steps=steps)
        net.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=schedule), loss="mse")
        net.fit(split.x_train, split.y_train, epochs=s["qat_epochs"], batch_size=64, verbose=0)

    qat = tfmot.quantization.keras.quantize_model(model)
    quantization.set_qat_ranges(qat, model, representative)
    fine_tune(qat)
    qat_mse = quantization.table_row("qat int8", litert.convert(qat, "int8", representative),
                                     split)["test_mse_vs_sin"]
    tuned = tf.keras.models.clone_model(model)
    tuned.set_weights(model.get_weights())
    fine_tune(tuned)
    tuned_f32 = quantization.table_row("tuned f32", litert.convert(tuned, "float32"),
                                       split)["test_mse_vs_sin"]
    tuned_int8 = quantization.table_row(
        "tuned int8", litert.convert(tuned, "int8", representative), split)["test_mse_vs_sin"]
    calibrated = tfmot.quantization.keras.quantize_model(model)  # Going deeper E
    quantization.set_qat_ranges(calibrated, model, representative)
    start_mse = quantization.mse_vs_sin(calibrated(split.x_test, training=False).numpy(),
                                        split.x_test)
    return {
        "float_mse": float_mse,
        "h1_zero_fraction": float(np.mean(h1 == 0)),
        "largest_accumulator": int(np.abs(acc).max()),
        "accumulator_exceeds_int16": bool(np.abs(acc).max() > 32767),
        "ptq_mse": ptq,
        "ptq_vs_float32": {mode: v / ptq["float32"] for mode, v in ptq.items()},
        "int8_worse_than_float32": bool(ptq["int8"] > ptq["float32"]),
        "wide_mse": wide,
        "wide_int8_vs_float32": wide["int8"] / wide["float32"],
        "tuned_f32_mse": tuned_f32, "tuned_int8_mse": tuned_int8, "qat_int8_mse": qat_mse,
        "tuned_f32_vs_float32": tuned_f32 / ptq["float32"],
        "tuned_ptq_vs_tuned_f32": tuned_int8 / tuned_f32,
        "qat_vs_tuned_f32": qat_mse / tuned_f32,
        "qat_closer_than_ptq": bool(qat_mse < tuned_int8),
        "qat_start_mse": start_mse,
        "qat_start_vs_ptq": start_mse / ptq["int8"],
        "rounding": _rounding_sources(model, split, representative),
    }


def measure(seed: int) -> dict:
    """Return seed ``seed``'s figures: {"03": {...}, "04": {...}}."""
    env.set_seed(seed)
    model, split = models.trained_sine_model(seed)
    return {"03": lesson03(model, split, seed), "04": lesson04(model, split, seed)}


def summary(record: dict) -> str:
    """Return lessons 03 and 04's tables over the stored seeds (mean [min, max])."""
    return (f"lesson 03\n{pruning.seeds_table(record=record)}\n\n"
            f"lesson 04\n{quantization.seeds_table(record=record)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--write", action="store_true",
                        help=f"store the per-seed figures in {pruning.SEEDS_FILE}")
    args = parser.parse_args(argv)
    env.setup(args.seeds[0])
    start = time.perf_counter()
    command = ".venv/bin/python benchmarks/compression_seeds.py --seeds " + " ".join(
        map(str, args.seeds)) + " --write"
    record = {"command": command, "settings": {"03": L03, "04": L04}, "seeds": {}}
    for seed in args.seeds:
        record["seeds"][str(seed)] = measure(seed)
        print(f"seed {seed} done ({time.perf_counter() - start:.0f} s)", flush=True)
    record["seconds"] = round(time.perf_counter() - start)
    print(summary(record))
    print(f"\n(total {record['seconds']} s)")
    if args.write:
        files.write_atomic(pruning.SEEDS_FILE, json.dumps(record, indent=1) + "\n")
        print(f"wrote {pruning.SEEDS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
