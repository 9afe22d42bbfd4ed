"""Bad input to the lesson modules, as a careless student would type it: every public entry
point must refuse it at the call with a TypeError, ValueError or FileNotFoundError whose
message names the argument, never fail deep inside NumPy or TensorFlow nor return a
meaningless result.

One table: (id, call, exception type, message fragment). ``call`` takes a :class:`Ctx` of
small untrained models and data sets. No case may train: Keras' ``Model.fit`` and the
distillation loop are replaced by a tripwire for the whole module, so a check that only
happened after training had started fails loudly instead of costing minutes.
"""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from tinyml_helpers import (
    anomaly,
    checks,
    data,
    models,
    plots,
    pruning,
    quantization,
    sizing,
    vibration,
)
from tinyml_helpers import distillation as kd
from tinyml_helpers import fan_detector as fd

NAN, INF = float("nan"), float("inf")


def _split(x_train=None, y_train=None, **parts):
    """A small sine Split with some parts replaced."""
    s = data.sine_dataset(50, seed=0)
    fields = {f: getattr(s, f) for f in checks.SPLIT_FIELDS}
    if x_train is not None:
        fields["x_train"] = x_train
    if y_train is not None:
        fields["y_train"] = y_train
    fields.update(parts)
    return data.Split(**fields)


def _nan_at_end(a):
    a = np.array(a, dtype=np.float32)
    a.flat[-1] = np.nan
    return a


@pytest.fixture(scope="module")
def ctx(tf, tmp_path_factory):
    """Untrained models (1-4-4-1 regression, 2-3 classifier), data and folders."""
    model = models.mlp((1, 4, 4, 1), name="small")
    compiled = models.mlp((1, 4, 1), name="compiled")
    models.compile_regression(compiled)
    split = _split()
    x = np.linspace(0, 6, 8, dtype=np.float32).reshape(-1, 1)
    z = np.random.default_rng(0).normal(size=(40, 12))
    pairs = models.dense_weights(model)
    broken_json = tmp_path_factory.mktemp("broken_json")
    (broken_json / fd.TFLITE_NAME).write_bytes(b"not a model")
    (broken_json / fd.JSON_NAME).write_text("{ not json", encoding="utf-8")
    partial_json = tmp_path_factory.mktemp("partial_json")
    (partial_json / fd.TFLITE_NAME).write_bytes(b"not a model")
    (partial_json / fd.JSON_NAME).write_text(
        json.dumps({"feature_names": list(vibration.FEATURE_NAMES)}), encoding="utf-8")
    return SimpleNamespace(
        tf=tf, model=model, compiled=compiled, clf=models.mlp((2, 3), name="clf"), split=split,
        x=x, y=np.sin(x), z=z, pairs=pairs, counts=np.zeros((1, 200, 3), np.int16),
        nan_y_split=_split(y_train=_nan_at_end(split.y_train)),
        nan_x_split=_split(x_train=_nan_at_end(split.x_train)),
        inf_val_split=_split(x_val=np.full_like(split.x_val, np.inf)),
        short_split=_split(y_train=split.y_train[:-1]),
        wide_split=_split(x_train=np.repeat(split.x_train, 2, axis=1)),
        # A Detector shell (no model): enough for the checks that must come before any use.
        detector=fd.Detector(b"", None, np.zeros(12), np.ones(12), 1.0, 99.0),
        empty_dir=tmp_path_factory.mktemp("empty"), broken_json=broken_json,
        partial_json=partial_json,
    )


@pytest.fixture(scope="module", autouse=True)
def no_training(tf):
    """Make any start of training fail: every check must come before it."""
    mp = pytest.MonkeyPatch()

    def tripwire(*args, **kwargs):
        raise AssertionError("training started before the bad input was refused")

    mp.setattr(tf.keras.Model, "fit", tripwire)
    mp.setattr(kd, "_run", tripwire)
    yield
    mp.undo()


E, T, F = ValueError, TypeError, FileNotFoundError

CASES = [
    # --- data ----------------------------------------------------------------------------------
    ("data.samples.str_count", lambda c: data.sine_samples("100"), T, "num_samples must be an int"),
    ("data.samples.bool_count", lambda c: data.sine_samples(True), T, "num_samples must be an int"),
    ("data.samples.str_noise", lambda c: data.sine_samples(10, noise="low"), T,
     "noise must be a number"),
    ("data.samples.neg_seed", lambda c: data.sine_samples(10, seed=-1), E, "seed must be >= 0"),
    ("data.samples.float_seed", lambda c: data.sine_samples(10, seed=1.5), T,
     "seed must be an int"),
    ("data.split_sizes.scalar", lambda c: data.split_sizes(10, 0.6), T,
     "fractions must be 3 numbers"),
    ("data.split_sizes.str_item", lambda c: data.split_sizes(10, (0.6, "0.2", 0.2)), T,
     "fractions[1] must be a number"),
    ("data.split_sizes.nan", lambda c: data.split_sizes(10, (NAN, 0.5, 0.5)), E,
     "fractions[0] must be a finite number"),
    ("data.split.two_columns", lambda c: data.split(np.zeros((5, 2)), np.zeros(5)), E,
     "x must hold one value per sample"),
    ("data.split.empty", lambda c: data.split([], []), E, "x is empty"),
    ("data.split.strings", lambda c: data.split(["a", "b"], [1, 2]), T, "x must hold numbers"),
    ("data.split.nan", lambda c: data.split([1.0, NAN], [1, 2]), E, "x contains NaN or inf"),
    ("data.split.ragged", lambda c: data.split([[1.0], [2.0, 3.0]], [1, 2]), E,
     "x must be a rectangular array"),
    ("data.mse.sizes", lambda c: data.mse_vs_sin([1, 2], [1, 2, 3]), E, "differ in size"),
    ("data.mse.nan", lambda c: data.mse_vs_sin([NAN], [1]), E, "prediction contains NaN"),
    ("checks.check_split.tuple", lambda c: checks.check_split((1, 2)), T, "must be a data.Split"),
    # --- models --------------------------------------------------------------------------------
    ("models.widths.str", lambda c: models.check_widths("1-16-1"), T, "widths must be a list"),
    ("models.widths.int", lambda c: models.check_widths(16), T, "widths must be a list"),
    ("models.widths.bool", lambda c: models.check_widths((1, True, 1)), T, "must be ints"),
    ("models.mlp.activation_name", lambda c: models.mlp((1, 4, 1), activation="relu6x"), E,
     "unknown activation 'relu6x'"),
    ("models.mlp.activation_type", lambda c: models.mlp((1, 4, 1), activation=3), T,
     "activation must be"),
    ("models.mlp.empty_name", lambda c: models.mlp((1, 4, 1), name=""), E,
     "name must not be empty"),
    ("models.mlp.dropout_range", lambda c: models.mlp((1, 4, 1), dropout=-0.1), E,
     "dropout must be in [0, 1)"),
    ("models.mlp.dropout_one", lambda c: models.mlp((1, 4, 1), dropout=1.0), E,
     "dropout must be in [0, 1)"),
    ("models.mlp.rescale_zero", lambda c: models.mlp((1, 4, 1), rescale=(0.0, 1.0)), E,
     "rescale scale must not be 0"),
    ("models.mlp.rescale_scalar", lambda c: models.mlp((1, 4, 1), rescale=0.5), T,
     "rescale must be a (scale, offset) pair"),
    ("models.mlp.rescale_nan", lambda c: models.mlp((1, 4, 1), rescale=(1.0, NAN)), E,
     "rescale offset must be a finite number"),
    ("models.sine_model.lr_str", lambda c: models.sine_model(learning_rate="0.01"), T,
     "learning_rate must be a number"),
    ("models.sine_model.seed", lambda c: models.sine_model(seed=-1), E, "seed must be"),
    ("models.spread_kinks.range", lambda c: models.spread_kinks(
        models.mlp((1, 4, 1)).get_layer("dense_1"), 1.0, 1.0), E, "high must be above low"),
    ("models.spread_kinks.two_inputs", lambda c: models.spread_kinks(
        models.mlp((2, 4, 1)).get_layer("dense_1"), 0.0, 1.0), E, "one input and a bias"),
    ("models.spread_kinks.not_layer", lambda c: models.spread_kinks("dense_1", 0.0, 1.0), E,
     "needs a built Dense layer"),
    ("models.spread_kinks.nan", lambda c: models.spread_kinks(
        models.mlp((1, 4, 1)).get_layer("dense_1"), NAN, 1.0), E, "low must be a finite"),
    ("models.compile.not_model", lambda c: models.compile_regression("model"), T,
     "model must be a Keras model"),
    ("models.compile.lr_nan", lambda c: models.compile_regression(c.model, NAN), E,
     "learning_rate must be a finite number"),
    ("models.compile.lr_zero", lambda c: models.compile_regression(c.model, 0), E,
     "learning_rate must be > 0"),
    ("models.fit.nan_labels", lambda c: models.fit(c.compiled, c.nan_y_split, epochs=1), E,
     "data.y_train contains NaN or inf"),
    ("models.fit.nan_inputs", lambda c: models.fit(c.compiled, c.nan_x_split, epochs=1), E,
     "data.x_train contains NaN or inf"),
    ("models.fit.inf_val", lambda c: models.fit(c.compiled, c.inf_val_split, epochs=1), E,
     "data.x_val contains NaN or inf"),
    ("models.fit.lengths", lambda c: models.fit(c.compiled, c.short_split, epochs=1), E,
     "data.x_train and data.y_train must be equally long"),
    ("models.fit.tuple", lambda c: models.fit(c.compiled, (c.x, c.y)), T,
     "data must be a data.Split"),
    ("models.fit.float_epochs", lambda c: models.fit(c.compiled, c.split, epochs=2.5), T,
     "epochs must be an int"),
    ("models.fit.zero_batch", lambda c: models.fit(c.compiled, c.split, batch_size=0), E,
     "batch_size must be positive"),
    ("models.fit.progress_str", lambda c: models.fit(c.compiled, c.split, progress="no"), T,
     "progress must be True or False"),
    ("models.fit.validation_freq", lambda c: models.fit(c.compiled, c.split,
                                                        validation_freq=0), E,
     "validation_freq must be positive"),
    ("models.fit.not_model", lambda c: models.fit("model", c.split), T,
     "model must be a Keras model"),
    ("models.fit.uncompiled", lambda c: models.fit(c.model, c.split), E,
     "is not compiled: call models.compile_regression"),
    ("models.fit.x_width", lambda c: models.fit(c.compiled, c.wide_split), E,
     "data.x_train has 2 values per sample but model 'compiled' takes 1"),
    ("models.fit.y_width", lambda c: models.fit(c.compiled, _split(
        y_val=np.zeros((len(c.split.y_val), 3)))), E,
     "data.y_val has 3 values per sample but model 'compiled' outputs 1"),
    ("models.dense_weights.not_model", lambda c: models.dense_weights("m"), T,
     "model must be a Keras model"),
    ("models.trained.seed", lambda c: models.trained_sine_model(seed=-1), E,
     "seed must be >= 0"),
    ("models.trained.epochs", lambda c: models.trained_sine_model(epochs=0), E,
     "epochs must be positive"),
    ("models.progress.epochs", lambda c: models.progress_callback(0), E,
     "epochs must be positive"),
    ("models.fit.callbacks_str", lambda c: models.fit(c.compiled, c.split, callbacks="revive"), T,
     "callbacks must be a list of Keras callbacks"),
    ("models.cosine.lr_zero", lambda c: models.cosine_learning_rate(0, 10), E,
     "learning_rate must be > 0"),
    ("models.cosine.epochs", lambda c: models.cosine_learning_rate(0.01, 0), E,
     "epochs must be positive"),
    ("models.cosine.fraction", lambda c: models.cosine_learning_rate(0.01, 10, 1.5), E,
     "final_fraction must be"),
    ("models.revive.rng", lambda c: models.revive_dead_neurons(c.model, c.x, 0), T,
     "rng must be a numpy.random.Generator"),
    ("models.revive.not_model", lambda c: models.revive_dead_neurons(
        "m", c.x, np.random.default_rng(0)), T, "model must be a Keras model"),
    ("models.revive.width", lambda c: models.revive_dead_neurons(
        c.model, np.zeros((5, 2)), np.random.default_rng(0)), E, "x has 2 values per sample"),
    ("models.revive.nan", lambda c: models.revive_dead_neurons(
        c.model, np.full((5, 1), NAN), np.random.default_rng(0)), E, "at least 2 finite samples"),
    ("models.revive.rescale", lambda c: models.revive_dead_neurons(
        models.mlp((1, 4, 1), rescale=(0.5, -1.0)), np.zeros((5, 1)), np.random.default_rng(0)),
     E, "needs a model of Dense layers only"),
    ("models.revive_callback.every", lambda c: models.revive_callback(np.zeros((5, 1)), every=0),
     E, "every must be positive"),
    ("models.revive_callback.x", lambda c: models.revive_callback(np.zeros(5)), E,
     "x must be a finite 2-D array"),
    ("models.sine_callbacks.epochs", lambda c: models.sine_callbacks(np.zeros((5, 1)), 0), E,
     "epochs must be positive"),
    # --- sizing --------------------------------------------------------------------------------
    ("sizing.board.int", lambda c: sizing.get_board(3), T, "board must be a str"),
    ("sizing.board.unknown", lambda c: sizing.check_fit(100, 10, "pico"), E,
     "unknown board 'pico'"),
    ("sizing.dtype.unknown", lambda c: sizing.model_bytes([1, 4, 1], "int4"), E,
     "unknown dtype 'int4'"),
    ("sizing.dtype.int", lambda c: sizing.model_bytes([1, 4, 1], 8), T,
     "dtype must be a string"),
    ("sizing.dtype.list", lambda c: sizing.activation_bytes([1, 4, 1], ["int8"]), T,
     "dtype must be a string"),
    ("sizing.fit_report.dtype", lambda c: sizing.fit_report([1, 4, 1], "float64"), E,
     "unknown dtype 'float64'"),
    ("sizing.widths.bool", lambda c: sizing.count_params([1, True, 1]), T, "must be ints"),
    ("sizing.widths.empty", lambda c: sizing.count_macs([]), E, "at least an input"),
    ("sizing.widths.str", lambda c: sizing.format_table("1-4-1"), T,
     "list of layer widths or a Keras model"),
    ("sizing.human.negative", lambda c: sizing.human_bytes(-1), E, "n must be >= 0"),
    ("sizing.human.str", lambda c: sizing.human_bytes("1 KB"), T, "n must be an int"),
    ("sizing.format_fits.str", lambda c: sizing.format_fits("uno"), T,
     "fits must be a list of sizing.Fit"),
    ("sizing.check_fit.float", lambda c: sizing.check_fit(1.5, 10, "uno"), T,
     "flash_needed must be an int"),
    # --- pruning -------------------------------------------------------------------------------
    ("pruning.sparsity.nan", lambda c: pruning.check_sparsity(NAN), E,
     "sparsity must be in [0, 1)"),
    ("pruning.sparsity.str", lambda c: pruning.check_sparsity("0.5"), T,
     "sparsity must be a number"),
    ("pruning.mask.nan", lambda c: pruning.magnitude_mask([[NAN, 1.0]], 0.5), E,
     "weights contains NaN or inf"),
    ("pruning.mask.str", lambda c: pruning.magnitude_mask("abc", 0.5), T,
     "weights must be an array"),
    ("pruning.prune.no_layers", lambda c: pruning.prune_weights(c.model, 0.5, layers=[]), E,
     "layers is empty"),
    ("pruning.prune.layers_int", lambda c: pruning.prune_weights(c.model, 0.5, layers=3), T,
     "layers must be Dense layer names"),
    ("pruning.prune.sparsity_one", lambda c: pruning.prune_weights(c.model, 1.0), E,
     "sparsity must be in [0, 1)"),
    ("pruning.finetune.nan_labels", lambda c: pruning.finetune_masked(c.model, c.nan_y_split,
                                                                      epochs=1), E,
     "split.y_train contains NaN or inf"),
    ("pruning.finetune.lr", lambda c: pruning.finetune_masked(c.model, c.split,
                                                              learning_rate=0), E,
     "learning_rate must be > 0"),
    ("pruning.finetune.seed", lambda c: pruning.finetune_masked(c.model, c.split, seed="a"), T,
     "seed must be an int"),
    ("pruning.finetune.batch", lambda c: pruning.finetune_masked(c.model, c.split,
                                                                 batch_size=-8), E,
     "batch_size must be positive"),
    ("pruning.pruned_models.scalar", lambda c: pruning.pruned_models(c.model, c.split, 0.5), T,
     "targets must be a list"),
    ("pruning.pruned_models.empty", lambda c: pruning.pruned_models(c.model, c.split, []), E,
     "targets is empty"),
    ("pruning.pruned_models.nan_x", lambda c: pruning.pruned_models(c.model, c.nan_x_split,
                                                                    [0.5]), E,
     "split.x_train contains NaN or inf"),
    ("pruning.pruned_models.width", lambda c: pruning.pruned_models(c.model, c.wide_split,
                                                                    [0.5]), E,
     "split.x_train has 2 values per sample"),
    ("pruning.finetune.width", lambda c: pruning.finetune_masked(c.model, c.wide_split), E,
     "split.x_train has 2 values per sample"),
    ("pruning.tfmot.epochs", lambda c: pruning.prune_with_tfmot(c.model, c.split, 0.5,
                                                                epochs=-1), E,
     "epochs must be positive"),
    ("pruning.tfmot.batch", lambda c: pruning.prune_with_tfmot(c.model, c.split, 0.5,
                                                               batch_size=2.0), T,
     "batch_size must be an int"),
    ("pruning.tfmot.target", lambda c: pruning.prune_with_tfmot(c.model, c.split, 50), E,
     "sparsity must be in [0, 1)"),
    ("pruning.predict.width", lambda c: pruning.predict(c.model, np.zeros((3, 2))), E,
     "x must have shape (n, 1)"),
    ("pruning.predict.1d", lambda c: pruning.predict(c.model, np.zeros(3)), E, "x must be 2-D"),
    ("pruning.predict.not_model", lambda c: pruning.predict("m", c.x), T,
     "model must be a Keras model"),
    ("pruning.model_mse.nan", lambda c: pruning.model_mse_vs_sin(c.model, [[NAN]]), E,
     "x contains NaN or inf"),
    ("pruning.csr.float_bytes", lambda c: pruning.csr_bytes(np.eye(2), value_bytes=2.5), T,
     "value_bytes must be an int"),
    ("pruning.csr.zero_index", lambda c: pruning.csr_bytes(np.eye(2), index_bytes=0), E,
     "index_bytes must be positive"),
    ("pruning.csr.strings", lambda c: pruning.csr_bytes([["a"]]), T,
     "matrix must hold numbers"),
    ("pruning.scores.width", lambda c: pruning.neuron_scores(c.model, np.zeros((2, 3))), E,
     "x must have shape (n, 1)"),
    ("pruning.live.inf", lambda c: pruning.live_neurons(c.model, [[INF]]), E,
     "x contains NaN or inf"),
    ("pruning.neuron_prune.int", lambda c: pruning.neuron_prune(c.model, 4), T,
     "keep must be a list"),
    ("pruning.neuron_prune.float", lambda c: pruning.neuron_prune(c.model, (2, 2.0)), T,
     "keep must hold ints"),
    ("pruning.neuron_prune.x", lambda c: pruning.neuron_prune(c.model, (2, 2), x=[[NAN]]), E,
     "x contains NaN or inf"),
    ("pruning.blob.not_model", lambda c: pruning.weights_blob("m"), T, "Keras model"),
    ("pruning.sweep.scalar", lambda c: pruning.sweep(c.model, c.split, 0.5), T,
     "sparsities must be a list"),
    ("pruning.sweep.tflite", lambda c: pruning.sweep(c.model, c.split, [0.0], tflite="yes"), T,
     "tflite must be True or False"),
    ("pruning.sweep.nan_labels", lambda c: pruning.sweep(c.model, c.nan_y_split, [0.5]), E,
     "split.y_train contains NaN or inf"),
    ("pruning.sweep.epochs", lambda c: pruning.sweep(c.model, c.split, [0.0], epochs=0), E,
     "epochs must be positive"),
    ("pruning.format_sweep.row", lambda c: pruning.format_sweep([{"sparsity": 0}]), E,
     "rows[0] is not a sweep() row"),
    ("pruning.format_sweep.str", lambda c: pruning.format_sweep("rows"), T,
     "rows must be the list sweep() returns"),
    ("pruning.gzip.none", lambda c: pruning.gzip_size(None), T, "gzip_size needs bytes"),
    ("pruning.tflite.not_model", lambda c: pruning.tflite_bytes("m"), T,
     "model must be a Keras model"),
    ("pruning.copy.none", lambda c: pruning.copy_model(None), T, "model must be a Keras model"),
    # --- quantization --------------------------------------------------------------------------
    ("quant.fake.axis", lambda c: quantization.fake_quantize([1.0, 2.0], axis=1), E,
     "axis must be in"),
    ("quant.fake.axis_type", lambda c: quantization.fake_quantize([1.0, 2.0], axis="last"), T,
     "axis must be an int"),
    ("quant.fake.symmetric", lambda c: quantization.fake_quantize([1.0], symmetric="yes"), T,
     "symmetric must be True or False"),
    ("quant.fake.bits", lambda c: quantization.fake_quantize([1.0], bits=1), E,
     "bits must be in"),
    ("quant.fake.nan", lambda c: quantization.fake_quantize([NAN]), E, "x contains NaN or inf"),
    ("quant.weights.bad_pair", lambda c: quantization.quantize_model_weights(
        [(np.ones((1, 2)), np.ones(3))]), E, "pairs[0]"),
    ("quant.weights.nan", lambda c: quantization.quantize_model_weights(
        [(np.full((1, 2), np.nan), np.ones(2))]), E, "pairs[0] W contains NaN or inf"),
    ("quant.weights.not_model", lambda c: quantization.quantize_model_weights("model"), T,
     "model must be a Keras model"),
    ("quant.weights.per_channel", lambda c: quantization.quantize_model_weights(
        c.model, per_channel="yes"), T, "per_channel must be True or False"),
    ("quant.forward.no_pairs", lambda c: quantization.forward([], c.x), T,
     "pairs must be a non-empty list"),
    ("quant.forward.width", lambda c: quantization.forward(c.pairs, np.zeros((3, 2))), E,
     "x must have shape (n, 1)"),
    ("quant.forward.strings", lambda c: quantization.forward(c.pairs, [["a"]]), T,
     "x must hold numbers"),
    ("quant.forward.nan_x", lambda c: quantization.forward(c.pairs, [[NAN]]), E,
     "x contains NaN or inf"),
    ("quant.forward.chain", lambda c: quantization.forward(
        [(np.ones((1, 3)), np.ones(3)), (np.ones((2, 1)), np.ones(1))], c.x), E,
     "do not chain"),
    ("quant.mse.inf", lambda c: quantization.mse_vs_sin([1.0], [INF]), E,
     "x contains NaN or inf"),
    ("quant.representative.str", lambda c: quantization.sine_representative("split"), T,
     "must be a data.Split"),
    ("quant.table_row.path", lambda c: quantization.table_row("float32", "model.tflite",
                                                              c.split), T,
     "tflite_bytes must be the bytes of a .tflite"),
    ("quant.table_row.name", lambda c: quantization.table_row(3, b"TFL3", c.split), T,
     "name must be a string"),
    ("quant.ptq.mode", lambda c: quantization.ptq_table(c.model, c.split, modes=["int4"]), E,
     "unknown mode 'int4'"),
    ("quant.ptq.modes_str", lambda c: quantization.ptq_table(c.model, c.split, modes="int8"), T,
     "modes must be a non-empty list"),
    ("quant.ptq.nan_test", lambda c: quantization.ptq_table(
        c.model, _split(x_test=np.full_like(c.split.x_test, np.nan))), E,
     "split.x_test contains NaN or inf"),
    ("quant.ptq.representative_str", lambda c: quantization.ptq_table(
        c.model, c.split, representative="x_train"), T, "representative must be an array"),
    ("quant.qat_row.representative_nan", lambda c: quantization.qat_row(
        c.model, c.split, representative=[[NAN]]), E, "representative contains NaN or inf"),
    ("quant.representative.wide", lambda c: quantization.sine_representative(c.wide_split), E,
     "sine_representative is for the one-input sine model"),
    ("quant.qat_model.lr", lambda c: quantization.qat_model(c.model, learning_rate=-1), E,
     "learning_rate must be > 0"),
    ("quant.qat_model.decay", lambda c: quantization.qat_model(c.model, decay_steps=-5), E,
     "decay_steps must be >= 0"),
    ("quant.qat_model.calibration", lambda c: quantization.qat_model(
        c.model, calibration=[[NAN]]), E, "calibration contains NaN or inf"),
    ("quant.qat_fine_tune.nan", lambda c: quantization.qat_fine_tune(c.model, c.nan_y_split), E,
     "split.y_train contains NaN or inf"),
    ("quant.qat_fine_tune.epochs", lambda c: quantization.qat_fine_tune(c.model, c.split,
                                                                        epochs=0), E,
     "epochs must be positive"),
    ("quant.qat_row.seed", lambda c: quantization.qat_row(c.model, c.split, seed=-2), E,
     "seed must be >= 0"),
    ("quant.format_rows.row", lambda c: quantization.format_rows([{"name": "x"}]), E,
     "rows[0] is not a table_row() row"),
    ("quant.format_rows.reference", lambda c: quantization.format_rows([], reference=None), T,
     "reference must be a string"),
    # --- distillation --------------------------------------------------------------------------
    ("kd.alpha.str", lambda c: kd.check_alpha("0.5"), T, "alpha must be a number"),
    ("kd.log_softmax.strings", lambda c: kd.log_softmax([["a"]]), T,
     "logits must hold numbers"),
    ("kd.log_softmax.nan", lambda c: kd.log_softmax([[NAN, 1.0]]), E,
     "logits contains NaN or inf"),
    ("kd.softmax.temperature", lambda c: kd.softmax([[1.0, 2.0]], temperature="hot"), T,
     "temperature must be a number"),
    ("kd.loss.nan", lambda c: kd.distillation_loss([NAN], [1.0], [1.0], 0.5), E,
     "y_true contains NaN or inf"),
    ("kd.loss.tf_shapes", lambda c: kd.distillation_loss(
        *(c.tf.constant(a) for a in (np.zeros((4, 1)), np.zeros(4), np.zeros(4))), 0.5), E,
     "must have one shape"),
    ("kd.ce.label_range", lambda c: kd.cross_entropy([0, 3], [[0, 1, 2], [0, 1, 2]]), E,
     "labels must be integer classes in [0, 3)"),
    ("kd.ce.lengths", lambda c: kd.cross_entropy([0], [[0, 1], [1, 0]]), E,
     "one label per row"),
    ("kd.kl.shapes", lambda c: kd.soft_kl([[0.0, 1.0]], [[0.0, 1.0, 2.0]], 1.0), E,
     "must have one shape"),
    ("kd.soft_target.labels", lambda c: kd.soft_target_loss([0.5], [[0, 1]], [[0, 1]], 2.0,
                                                            0.5), E,
     "labels must be integer classes"),
    ("kd.train.student_str", lambda c: kd.train_student("model", c.x, c.y), T,
     "student must be a Keras model"),
    ("kd.train.nan_labels", lambda c: kd.train_student(c.model, c.x, _nan_at_end(c.y)), E,
     "y contains NaN or inf"),
    ("kd.train.nan_inputs", lambda c: kd.train_student(c.model, _nan_at_end(c.x), c.y), E,
     "x contains NaN or inf"),
    ("kd.train.teacher_str", lambda c: kd.train_student(c.model, c.x, c.y, teacher="t"), T,
     "teacher must be a Keras model"),
    ("kd.train.x_width", lambda c: kd.train_student(c.model, np.zeros((8, 2)), c.y), E,
     "x has 2 features per row but the student takes 1"),
    ("kd.train.y_width", lambda c: kd.train_student(c.model, c.x, np.zeros((8, 3))), E,
     "y has 3 values per row but the student outputs 1"),
    ("kd.train.class_range", lambda c: kd.train_student(c.clf, np.zeros((4, 2)), [0, 1, 5, 2],
                                                        task="classification"), E,
     "classes 0..2"),
    ("kd.train.task_int", lambda c: kd.train_student(c.model, c.x, c.y, task=3), T,
     "task must be a string"),
    ("kd.train.task_unknown", lambda c: kd.train_student(c.model, c.x, c.y, task="ranking"), E,
     "unknown task 'ranking'"),
    ("kd.train.seed", lambda c: kd.train_student(c.model, c.x, c.y, seed=-1), E,
     "seed must be >= 0"),
    ("kd.train.lr_str", lambda c: kd.train_student(c.model, c.x, c.y, learning_rate="fast"), T,
     "learning_rate must be a number"),
    ("kd.train.extra_width", lambda c: kd.train_student(c.model, c.x, c.y, c.model,
                                                        extra_x=np.zeros((3, 2))), E,
     "extra_x rows must look like x rows"),
    ("kd.train.extra_nan", lambda c: kd.train_student(c.model, c.x, c.y, c.model,
                                                      extra_x=[[NAN]]), E,
     "extra_x contains NaN or inf"),
    ("kd.train.teacher_shape", lambda c: kd.train_student(c.model, c.x, c.y, c.clf), E,
     "teacher maps 2 inputs to 3 outputs"),
    ("kd.train.batch_bool", lambda c: kd.train_student(c.model, c.x, c.y, batch_size=True), T,
     "batch_size must be an int"),
    ("kd.train.y_strings", lambda c: kd.train_student(c.model, c.x, ["a"] * 8), T,
     "y must hold numbers"),
    ("kd.train.one_hot", lambda c: kd.train_student(c.clf, np.zeros((2, 2)), np.eye(2, 3),
                                                    task="classification"), E,
     "one class per row"),
    ("kd.spiral.seed", lambda c: kd.spiral(seed=-1), E, "seed must be >= 0"),
    ("kd.extra_x.seed", lambda c: kd.sine_extra_x(10, seed="1"), T, "seed must be an int"),
    ("kd.spiral_table.dropout", lambda c: kd.spiral_distillation_table(teacher_dropout=1.5), E,
     "teacher_dropout must be in [0, 1)"),
    ("kd.sine_table.steps", lambda c: kd.sine_distillation_table(steps=0), E,
     "steps must be positive"),
    ("kd.spiral_test.seed", lambda c: kd.spiral_test(seed=None), T, "seed must be an int"),
    # --- vibration -----------------------------------------------------------------------------
    ("vib.speed.case", lambda c: vibration.check_speed("HIGH"), E, "unknown speed 'HIGH'"),
    ("vib.windows.imbalance", lambda c: vibration.windows("low", 2, imbalance="yes"), T,
     "imbalance must be True or False"),
    ("vib.windows.robust", lambda c: vibration.windows("low", 2, robust=1), T,
     "robust must be True or False"),
    ("vib.dataset.speeds_str", lambda c: vibration.dataset(10, 2, anomaly_speeds="low"), E,
     "anomaly_speeds must be a non-empty list"),
    ("vib.dataset.speed_name", lambda c: vibration.dataset(10, 2, anomaly_speeds=["fast"]), E,
     "unknown speed 'fast'"),
    ("vib.dataset.config", lambda c: vibration.dataset(10, 2, config="cfg"), T,
     "config must be a FanConfig"),
    ("vib.dataset.robust", lambda c: vibration.dataset(10, 2, robust="yes"), T,
     "robust must be True or False"),
    ("vib.dataset.zero_anomalies", lambda c: vibration.dataset(10, 0), E,
     "anomalous_per_speed must be positive"),
    ("vib.config.range_str", lambda c: vibration.FanConfig(gain_range=("a", 1.0)), T,
     "gain_range must be a number"),
    ("vib.config.range_scalar", lambda c: vibration.FanConfig(gain_range=0.8), T,
     "gain_range must be a (low, high) pair"),
    ("vib.features.rate_str", lambda c: vibration.features(np.zeros((2, 200, 3)),
                                                           sample_rate="200"), T,
     "sample_rate must be a number"),
    ("vib.features.strings", lambda c: vibration.features([["a"]]), T,
     "windows must hold numbers"),
    ("vib.dft_bins.band_order", lambda c: vibration.dft_bins(200, 200.0, (30, 5)), E,
     "low < high"),
    ("vib.dft_bins.samples", lambda c: vibration.dft_bins(0, 200.0, (1, 5)), E,
     "num_samples must be positive"),
    ("vib.dft_bins.band_scalar", lambda c: vibration.dft_bins(200, 200.0, 5), T,
     "band must be a (low, high) pair"),
    ("vib.mount.natural_hz", lambda c: vibration.mount_response(3.0, 0.0, 0.1), E,
     "natural_hz must be > 0"),
    ("vib.mount.freq_str", lambda c: vibration.mount_response("3 Hz", 9.0, 0.1), T,
     "freq must be an array"),
    # --- anomaly -------------------------------------------------------------------------------
    ("anomaly.scaler.nan", lambda c: anomaly.fit_scaler([[1.0, NAN]]), E, "contain NaN or inf"),
    ("anomaly.scaler.1d", lambda c: anomaly.fit_scaler(np.zeros(5)), E,
     "must be a non-empty (n, features) array"),
    ("anomaly.scaler.strings", lambda c: anomaly.fit_scaler([["a"]]), T,
     "features must hold numbers"),
    ("anomaly.scaler.width", lambda c: anomaly.fit_scaler([[1.0, 2.0], [3.0, 4.0]])(
        np.ones((2, 3))), E, "expected 2 features, got 3"),
    ("anomaly.maha.ridge", lambda c: anomaly.fit_mahalanobis(np.eye(20)[:, :2], ridge=-1), E,
     "ridge must be >= 0"),
    ("anomaly.maha.ridge_str", lambda c: anomaly.fit_mahalanobis(np.eye(20)[:, :2],
                                                                 ridge="small"), T,
     "ridge must be a number"),
    ("anomaly.maha.singular", lambda c: anomaly.fit_mahalanobis(
        np.c_[np.arange(20.0), np.arange(20.0)], ridge=0.0), E, "covariance of x is singular"),
    ("anomaly.ae.n_features", lambda c: anomaly.build_autoencoder(12.0), T,
     "n_features must be an int"),
    ("anomaly.ae.hidden_int", lambda c: anomaly.build_autoencoder(12, hidden=8), T,
     "hidden must be a list"),
    ("anomaly.ae.hidden_zero", lambda c: anomaly.build_autoencoder(12, hidden=(8, 0, 8)), E,
     "hidden[1] must be positive"),
    ("anomaly.ae.lr", lambda c: anomaly.build_autoencoder(12, learning_rate=0), E,
     "learning_rate must be > 0"),
    ("anomaly.train.nan", lambda c: anomaly.train_autoencoder(_nan_at_end(c.z), c.z), E,
     "x_train contain NaN or inf"),
    ("anomaly.train.width", lambda c: anomaly.train_autoencoder(c.z, c.z[:, :3]), E,
     "x_train has 12 features, x_val 3"),
    ("anomaly.train.epochs", lambda c: anomaly.train_autoencoder(c.z, c.z, epochs=0), E,
     "epochs must be positive"),
    ("anomaly.train.batch", lambda c: anomaly.train_autoencoder(c.z, c.z, batch_size=-1), E,
     "batch_size must be positive"),
    ("anomaly.threshold.str", lambda c: anomaly.threshold([1, 2], "99"), T,
     "percentile must be a number"),
    ("anomaly.threshold.empty", lambda c: anomaly.threshold([], 99), E,
     "normal_scores is empty"),
    ("anomaly.threshold.nan", lambda c: anomaly.threshold([1.0, NAN]), E,
     "normal_scores contains NaN or inf"),
    ("anomaly.roc.strings", lambda c: anomaly.roc_curve(["a", "b"], [0, 1]), T,
     "scores must hold numbers"),
    ("anomaly.auc_rank.lengths", lambda c: anomaly.auc_rank([1, 2], [0, 1, 1]), E,
     "equally long"),
    ("anomaly.confusion.empty", lambda c: anomaly.confusion_matrix([], []), E,
     "labels and flagged are empty"),
    ("anomaly.confusion.values", lambda c: anomaly.confusion_matrix([0, 1], [0, 2]), E,
     "flagged must be 0/1"),
    # --- fan_detector --------------------------------------------------------------------------
    ("fd.make.threshold_nan", lambda c: fd.make(b"x", None, NAN, 99.0), E,
     "threshold must be a finite number"),
    ("fd.make.threshold_bool", lambda c: fd.make(b"x", None, True, 99.0), T,
     "threshold must be a number"),
    ("fd.make.threshold_zero", lambda c: fd.make(b"x", None, 0.0, 99.0), E,
     "threshold must be > 0"),
    ("fd.make.percentile", lambda c: fd.make(b"x", None, 1.0, -1), E,
     "percentile must be in [0, 100]"),
    ("fd.make.config", lambda c: fd.make(b"x", None, 1.0, 99.0, config="cfg"), T,
     "config must be a vibration.FanConfig"),
    ("fd.make.path", lambda c: fd.make("fan.tflite", None, 1.0, 99.0), T,
     "expected the .tflite model as bytes"),
    ("fd.calibrate.percentile", lambda c: fd.calibrate(b"x", None, [], percentile=101), E,
     "percentile must be in [0, 100]"),
    ("fd.saved_files.str", lambda c: fd.saved_files("detector"), T,
     "detector must be a fan_detector.Detector"),
    ("fd.save.str", lambda c: fd.save("detector", c.empty_dir), T,
     "detector must be a fan_detector.Detector"),
    ("fd.load.none", lambda c: fd.load(None), T, "directory must be a folder path"),
    ("fd.load.missing", lambda c: fd.load(c.empty_dir), F, "run lesson 07"),
    ("fd.load.broken_json", lambda c: fd.load(c.broken_json), E, "is not valid JSON"),
    ("fd.load.partial_json", lambda c: fd.load(c.partial_json), E, "lacks mean, std"),
    ("fd.load_exported.int", lambda c: fd.load_exported(3), T,
     "directory must be a folder path"),
    ("fd.to_counts.strings", lambda c: fd.to_counts([["a"]]), T, "windows must hold numbers"),
    ("fd.from_counts.str", lambda c: fd.from_counts("abc"), T, "counts must be an array"),
    ("fd.reference.str", lambda c: fd.reference("detector", np.zeros((1, 200, 3))), T,
     "detector must be a fan_detector.Detector"),
    ("fd.scores.str", lambda c: fd.scores_from_codes("detector", np.zeros((1, 12)),
                                                     np.zeros((1, 12))), T,
     "detector must be a fan_detector.Detector"),
    ("fd.c_files.none", lambda c: fd.c_files(None), T, "detector must be a fan_detector.Detector"),
    ("fd.config_files.none", lambda c: fd.config_files(None), T,
     "detector must be a fan_detector.Detector"),
    ("fd.run_c.str", lambda c: fd.run_c("detector", c.counts), T,
     "detector must be a fan_detector.Detector"),
    ("fd.run_c.build_dir", lambda c: fd.run_c(c.detector, c.counts, build_dir=3), T,
     "directory must be a folder path"),
    ("fd.run_c.timeout", lambda c: fd.run_c(c.detector, c.counts, timeout_s=0), E,
     "timeout_s must be > 0"),
    ("fd.run_c.target", lambda c: fd.run_c(c.detector, c.counts, target=4), T,
     "target must be 'host' or 'm4'"),
    ("fd.run_c.empty", lambda c: fd.run_c(c.detector, c.counts[:0]), E, "counts is empty"),
    ("fd.reference.nan", lambda c: fd.reference(c.detector, np.full((1, 200, 3), np.nan)), E,
     "windows contain NaN or inf"),
    ("fd.reference.shape", lambda c: fd.reference(c.detector, np.zeros((1, 100, 3))), E,
     "windows must have shape (n, 200, 3)"),
    ("fd.scores.shape", lambda c: fd.scores_from_codes(c.detector, np.zeros((2, 12)),
                                                       np.zeros((3, 12))), E,
     "features and codes_out must both have shape (n, 12)"),
    ("fd.samples.index", lambda c: fd.sample_windows(index=-1), E, "index must be >= 0"),
    ("fd.header.labels_str", lambda c: fd.windows_header(c.counts, "low"), T,
     "labels must be a list of (speed, coin) pairs"),
    ("fd.header.coin_str", lambda c: fd.windows_header(c.counts, [("low", "yes")]), T,
     "labels[0] coin must be True or False"),
    ("fd.header.speed", lambda c: fd.windows_header(c.counts, [("max", True)]), E,
     "unknown speed 'max'"),
    ("fd.expected.none", lambda c: fd.expected_output(None), T,
     "detector must be a fan_detector.Detector"),
    ("fd.project.str", lambda c: fd.projects("detector"), T,
     "detector must be a fan_detector.Detector"),
    # --- plots ---------------------------------------------------------------------------------
    ("plots.split.str", lambda c: plots.plot_split("split"), T, "must be a data.Split"),
    ("plots.history.no_loss", lambda c: plots.plot_history({"val_loss": [1.0]}), T,
     "history must be what model.fit returns"),
    ("plots.history.skip", lambda c: plots.plot_history({"loss": [1.0, 2.0]}, skip=-1), E,
     "skip must be >= 0"),
    ("plots.split.ax", lambda c: plots.plot_split(c.split, ax="left"), T,
     "ax must be Matplotlib axes"),
    ("plots.predictions.lengths", lambda c: plots.plot_predictions([1, 2], [1], {}), E,
     "x and y must hold as many values"),
    ("plots.predictions.list", lambda c: plots.plot_predictions([1], [1], [("m", ([1], [1]))]),
     T, "predictions must be a dict"),
    ("plots.predictions.pair", lambda c: plots.plot_predictions([1], [1], {"m": ([1, 2], [1])}),
     E, "x and y_hat must hold as many values"),
    ("plots.figure_only.value", lambda c: plots.figure_only(0.05), T,
     "show must be a function"),
]


@pytest.mark.parametrize("call, error, fragment", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_a_clear_message(ctx, call, error, fragment):
    with pytest.raises(error) as info:
        call(ctx)
    assert fragment in str(info.value)
    # The error comes from the package's own checks, not from deep inside NumPy or TF.
    assert info.traceback[-1].frame.code.path.as_posix().split("/")[-2] in (
        "tinyml_helpers", "deploy"), info.traceback[-1]


def test_case_ids_are_unique_and_the_table_covers_every_lesson_module():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60
    prefixes = {i.split(".")[0] for i in ids}
    assert prefixes == {"checks", "data", "models", "sizing", "pruning", "quant", "kd", "vib",
                        "anomaly", "fd", "plots"}


# --- a Dense layer without a bias is supported, not a crash ----------------------------------

def test_dense_without_bias_counts_as_zero_bias(tf):
    from tinyml_helpers.deploy import env
    env.set_seed(0)
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,), name="x"),
                                 tf.keras.layers.Dense(4, activation="relu", use_bias=False,
                                                       name="dense_1"),
                                 tf.keras.layers.Dense(3, activation="relu", name="dense_2"),
                                 tf.keras.layers.Dense(1, use_bias=False, name="output")])
    pairs = models.dense_weights(model)
    assert [b.tolist() for _, b in pairs][0] == [0.0] * 4 and pairs[2][1].tolist() == [0.0]
    x = np.linspace(0, 6, 20, dtype=np.float32).reshape(-1, 1)
    np.testing.assert_allclose(quantization.forward(pairs, x), model(x).numpy(), atol=1e-6)
    quantized = quantization.quantize_model_weights(model, 8)
    assert [w.shape for w, _ in quantized] == [(1, 4), (4, 3), (3, 1)]
    full = pruning.neuron_prune(model, (4, 3))  # keeping every neuron: the same function
    np.testing.assert_allclose(full(x).numpy(), model(x).numpy(), atol=1e-6)
    assert [len(s) for s in pruning.neuron_scores(model, x)] == [4, 3]
    assert len(pruning.live_neurons(model, x)) == 2
