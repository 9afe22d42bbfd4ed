"""The figures lessons 03 and 04 print over several seeds (tinyml_helpers/measured/
compression_seeds.json, written by benchmarks/compression_seeds.py --write): the file holds
every figure for the lessons' settings, its seed-0 row is what the lessons compute on their
own seed (recomputed here with the lessons' formulas, and with the benchmark's code), the
tables show mean [min, max], and the loaders refuse a malformed file."""

from __future__ import annotations

import ast
import json
import math
import warnings

import benchmark_script
import numpy as np
import pytest
from numpy_mlp import forward

from tinyml_helpers import models, pruning, quantization
from tinyml_helpers.deploy import litert
from tinyml_helpers.tooling.course import ROOT

LESSONS = {"03": (pruning, "03_pruning.ipynb"), "04": (quantization, "04_quantization.ipynb")}


def _parameters(notebook: str) -> dict:
    """The literals of a lesson's parameters cell."""
    cells = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    (cell,) = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    tree = ast.parse("".join(cell["source"]))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign)}


@pytest.fixture(scope="module")
def record():
    return pruning.stored_seeds()


def test_the_file_holds_both_lessons_figures_for_their_settings(record):
    assert quantization.stored_seeds() == record  # one file, each lesson's part checked
    seeds = sorted(int(s) for s in record["seeds"])
    assert set(range(5)) <= set(seeds)
    assert record["command"] == (".venv/bin/python benchmarks/compression_seeds.py --seeds "
                                 + " ".join(map(str, seeds)) + " --write")
    assert record["seconds"] > 0
    bench = benchmark_script.load("compression_seeds")
    assert record["settings"] == {"03": bench.L03, "04": bench.L04}
    for lesson, keys in (("03", bench.L03), ("04", ("qat_epochs", "qat_learning_rate"))):
        params = _parameters(LESSONS[lesson][1])
        assert params["seed"] == 0  # the seed the lesson runs, whose row the tests below check
        for key in keys:  # what the benchmark ran is what the lesson runs
            assert params[key] == record["settings"][lesson][key], (lesson, key)


def _mean_min_max(module, record, lesson, key):
    values = [pruning._seed_value(record["seeds"][s][lesson], key) for s in record["seeds"]]
    kind = module.SEED_FIGURES[key][1]
    return tuple(pruning._show(v, kind) for v in (float(np.mean(values)), min(values),
                                                   max(values)))


@pytest.mark.parametrize("lesson", ["03", "04"])
def test_the_tables_show_mean_min_max_and_how_often_a_claim_held(record, lesson):
    module = LESSONS[lesson][0]
    text = module.seeds_table()
    lines = text.splitlines()
    assert lines[0] == f"stored by: {record['command']}"
    assert len(lines) == 2 + len(module.SEED_FIGURES)
    n = len(record["seeds"])
    for (key, (label, kind)), line in zip(module.SEED_FIGURES.items(), lines[2:], strict=True):
        assert line.startswith(label)
        if kind == "claim":
            held = sum(bool(pruning._seed_value(r[lesson], key)) for r in record["seeds"].values())
            assert f"holds on {held} of {n}" in line
        else:
            mean, low, high = _mean_min_max(module, record, lesson, key)
            assert line.rstrip().endswith(f"{mean} [{low}, {high}]"), line
    key = next(k for k, (_, kind) in module.SEED_FIGURES.items() if kind != "claim")
    live = {key: 1.0}
    shown = module.seeds_table(live).splitlines()
    assert "this run" in shown[1] and len(shown) == 3
    assert pruning._show(1.0, module.SEED_FIGURES[key][1]) in shown[2]
    some = next(iter(record["settings"][lesson]))
    changed = module.seeds_table(live, settings={some: "other"}).splitlines()
    assert changed[-1].startswith("this run's settings are not the stored seeds'")
    with pytest.raises(ValueError, match="no stored figure"):
        module.seeds_table({"no such figure": 1.0})


def _corrupt(record, how):
    """Return a copy of the stored record broken in one way."""
    bad = json.loads(json.dumps(record))
    first = next(iter(bad["seeds"]))
    if how == "no command":
        del bad["command"]
    elif how == "no seeds":
        bad["seeds"] = {}
    elif how == "seed name":
        bad["seeds"]["zero"] = bad["seeds"].pop(first)
    elif how == "lesson missing":
        del bad["seeds"][first]["04"]
    elif how == "figure missing":
        del bad["seeds"][first]["03"]["live_neurons"]
    elif how == "not a number":
        bad["seeds"][first]["04"]["ptq_vs_float32"]["int8"] = "1.1x"
    elif how == "NaN":
        bad["seeds"][first]["03"]["uniform_knee"] = math.nan
    elif how == "claim not a bool":
        bad["seeds"][first]["04"]["qat_closer_than_ptq"] = 1
    return bad


BOTH = (pruning, quantization)


@pytest.mark.parametrize("how, message, loaders", [
    ("no command", "no 'command'", BOTH), ("no seeds", "no 'seeds'", BOTH),
    ("seed name", "not a seed", BOTH),
    ("lesson missing", "no figures for lesson 04", (quantization,)),
    ("figure missing", "lacks 'live_neurons", (pruning,)),
    ("not a number", "'ptq_vs_float32.int8' is '1.1x', not a finite number", (quantization,)),
    ("NaN", "'uniform_knee' is nan", (pruning,)),
    ("claim not a bool", "'qat_closer_than_ptq' is 1, not true or false", (quantization,))])
def test_the_loaders_refuse_a_malformed_file(record, tmp_path, how, message, loaders):
    path = tmp_path / "compression_seeds.json"
    path.write_text(json.dumps(_corrupt(record, how)), encoding="utf-8")
    for module in loaders:
        with pytest.raises(ValueError, match="compression_seeds.py --write") as caught:
            module.stored_seeds(path)
        assert message in str(caught.value)
    for module in set(BOTH) - set(loaders):  # the other lesson's part is intact
        assert module.stored_seeds(path)["seeds"]


def test_the_loaders_refuse_what_is_not_the_file(tmp_path):
    path = tmp_path / "compression_seeds.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        pruning.stored_seeds(path)
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="must be a JSON object"):
        quantization.stored_seeds(path)
    with pytest.raises(FileNotFoundError, match="benchmarks/compression_seeds.py --write"):
        pruning.stored_seeds(tmp_path / "missing.json")


# --- seed 0: the lessons' own run ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tf):
    """Lesson 01's model as lessons 03 and 04 retrain it on their seed, 0: (model, split)."""
    return models.trained_sine_model(0)


def _mse(y, x) -> float:
    return float(np.mean((y - np.sin(x)) ** 2))


def test_seed_0_is_what_lesson_03_computes_before_retraining(record, trained):
    """The figures lesson 03 gets without training again, by the lesson's own formulas."""
    model, split = trained
    stored = record["seeds"]["0"]["03"]
    x = split.x_test
    (W1, b1), (W2, b2), (W3, b3) = weights = models.dense_weights(model)
    dense = _mse(forward(weights, x), x)
    assert stored["dense_mse"] == pytest.approx(dense, rel=1e-6)
    keep = np.ones(W2.size, bool)
    keep[np.argsort(np.abs(W2).ravel(), kind="stable")[:round(0.7 * W2.size)]] = False
    one_shot = _mse(forward([weights[0], (W2 * keep.reshape(W2.shape), b2), weights[2]], x), x)
    assert stored["one_shot_70_vs_dense"] == pytest.approx(one_shot / dense, rel=1e-6)
    neurons = np.ones(16, bool)
    neurons[np.argsort(np.linalg.norm(W2, axis=0), kind="stable")[:8]] = False
    weight = pruning.magnitude_mask(W2, 0.5)
    block = np.repeat(pruning.magnitude_mask(np.linalg.norm(W2.reshape(4, 4, 16), axis=1), 0.5),
                      4, axis=0)
    kinds = {"weight": _mse(forward([weights[0], (W2 * weight, b2), weights[2]], x), x),
             "block 4x1": _mse(forward([weights[0], (W2 * block, b2), weights[2]], x), x),
             "neuron": _mse(forward([weights[0], (W2 * neurons, b2 * neurons),
                                      (W3 * neurons[:, None], b3)], x), x)}
    for kind, mse in kinds.items():
        assert stored["kinds_50_vs_dense"][kind] == pytest.approx(mse / dense, rel=1e-6)
    assert stored["weight_cheapest"] == (kinds["weight"] == min(kinds.values()))
    h1 = np.maximum(0.0, split.x_train @ W1 + b1)
    h2 = np.maximum(0.0, h1 @ W2 + b2)
    live1, live2 = np.ptp(h1, axis=0) > 1e-6, np.ptp(h2, axis=0) > 1e-6
    assert stored["live_neurons"] == [int(live1.sum()), int(live2.sum())]
    assert stored["live_neurons_removed"] == int(np.sum(live2 & ~neurons))
    kept = pruning.magnitude_mask(W1, 0.5)[0]
    assert stored["dense_1_live_lost"] == int(np.sum(~kept & live1))
    for name, row in stored["neurons"].items():  # before retraining: no training involved
        keep = tuple(int(n) for n in name.split("-"))
        compact = pruning.neuron_prune(model, keep=keep, x=split.x_train)
        assert row["mse"] == pytest.approx(pruning.model_mse_vs_sin(compact, x), rel=1e-6)
        assert row["params"] == compact.count_params()
    rank = np.argsort(np.argsort(np.abs(W2).reshape(4, 4, 16), axis=1, kind="stable"), axis=1,
                      kind="stable")
    two_four = _mse(forward([weights[0], (W2 * (rank >= 2).reshape(16, 16), b2), weights[2]],
                             x), x)
    assert stored["two_four_vs_unstructured"] == pytest.approx(two_four / kinds["weight"],
                                                               rel=1e-6)


def test_seed_0_is_what_lesson_04_computes_before_fine_tuning(record, trained):
    """The figures lesson 04 gets without training again, by the lesson's own formulas."""
    model, split = trained
    stored = record["seeds"]["0"]["04"]
    (W1, b1), (W2, _), _ = models.dense_weights(model)
    w_scale, w_zp = quantization.affine_params(W2.min(), W2.max(), bits=8, symmetric=True)
    h1 = np.maximum(split.x_test @ W1 + b1, 0)
    x_scale, x_zp = quantization.affine_params(h1.min(), h1.max(), bits=8, signed=True)
    acc = (quantization.quantize(h1, x_scale, x_zp, 8, signed=True).astype(np.int32) - x_zp) \
        @ quantization.quantize(W2, w_scale, w_zp, 8, signed=True).astype(np.int32)
    assert stored["largest_accumulator"] == int(np.abs(acc).max())
    representative = quantization.sine_representative(split)
    mse = {mode: quantization.table_row(
        mode, litert.convert(model, mode, representative if mode == "int8" else None),
        split)["test_mse_vs_sin"] for mode in litert.MODES}
    for mode in litert.MODES:
        assert stored["ptq_vs_float32"][mode] == pytest.approx(mse[mode] / mse["float32"],
                                                               rel=1e-6)
    assert stored["int8_worse_than_float32"] == (mse["int8"] > mse["float32"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tfmot's own distutils deprecation warnings
        import tensorflow_model_optimization as tfmot
    calibrated = tfmot.quantization.keras.quantize_model(model)
    quantization.set_qat_ranges(calibrated, model, representative)
    start = quantization.mse_vs_sin(calibrated(split.x_test, training=False).numpy(),
                                    split.x_test)
    assert stored["qat_start_vs_ptq"] == pytest.approx(start / mse["int8"], rel=1e-6)


def _same(stored, fresh, where="seed 0"):
    """Assert two records are equal: floats to 1e-6, everything else exactly."""
    if isinstance(fresh, dict):
        assert set(stored) == set(fresh), where
        for key in fresh:
            _same(stored[key], fresh[key], f"{where}.{key}")
    elif isinstance(fresh, (list, tuple)):
        assert len(stored) == len(fresh), where
        for i, (a, b) in enumerate(zip(stored, fresh, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(fresh, float):
        assert stored == pytest.approx(fresh, rel=1e-6), where
    else:
        assert stored == fresh, where


def test_seed_0_is_what_the_benchmark_measures_now(record, trained):
    """All of seed 0 measured again (about 20 s): the stored file is not stale."""
    bench = benchmark_script.load("compression_seeds")
    model, split = trained
    fresh = json.loads(json.dumps({"03": bench.lesson03(model, split, 0),
                                   "04": bench.lesson04(model, split, 0)}))
    _same(record["seeds"]["0"], fresh)
