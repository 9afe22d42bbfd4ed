"""Lesson 08's digits module: the split, the models, filter removal that keeps exactly the chosen
filters, weight pruning at a matching sparsity, the input codes, TFLM's view of a tensor inside
the model, and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tinyml_helpers import digits, sizing
from tinyml_helpers.deploy import graph, litert, ops, tflm


@pytest.fixture(scope="module")
def data():
    return digits.load(0)


@pytest.fixture(scope="module")
def trained(tf, data):
    model = digits.cnn()
    digits.train(model, data, epochs=3)
    return model


@pytest.fixture(scope="module")
def int8_graph(trained, data):
    return graph.read(litert.convert(trained, "int8", data.x_train))


def test_the_split_is_seeded_and_covers_every_image(data):
    assert data.sizes() == (1257, 180, 360)
    again = digits.load(0)
    assert np.array_equal(again.x_test, data.x_test) and np.array_equal(again.y_val, data.y_val)
    assert not np.array_equal(digits.load(1).y_test, data.y_test)
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    assert data.x_train.shape[1:] == (8, 8, 1) and set(data.y_test) == set(range(10))


def test_the_cnn_is_small_and_the_dense_baseline_is_not(tf):
    cnn, dense = digits.cnn(), digits.dense_baseline()
    assert cnn.count_params() == 80 + 1168 + 650 == sizing.count_params(cnn)
    assert dense.count_params() == 64 * 32 + 32 + 330
    assert sizing.count_macs(cnn) == 64 * 72 + 16 * 1152 + 640


def test_removed_filters_leave_exactly_the_kept_ones(trained, data):
    keep = digits.kept_filters(trained, (3, 5))
    scores = digits.filter_scores(trained)
    for name, kept in keep.items():
        # the kept filters are the strongest by L1 norm
        assert scores[name][kept].min() >= np.delete(scores[name], kept).max()
    small = digits.remove_filters(trained, (3, 5))
    assert [layer.filters for layer in small.layers[::2][:2]] == [3, 5]
    big_conv1 = trained.get_layer("conv1")(data.x_test[:4]).numpy()
    small_conv1 = small.get_layer("conv1")(data.x_test[:4]).numpy()
    assert np.allclose(small_conv1, big_conv1[..., keep["conv1"]], atol=1e-6)


def test_keeping_every_filter_changes_nothing(trained, data):
    same = digits.remove_filters(trained, (8, 16))
    assert np.allclose(same.predict(data.x_test[:32], verbose=0),
                       trained.predict(data.x_test[:32], verbose=0), atol=1e-6)


def test_weight_pruning_matches_the_removed_count(trained):
    small = digits.remove_filters(trained, (4, 8))
    sparsity = digits.matching_sparsity(trained, small)
    assert sparsity == pytest.approx({"conv1": 0.5, "conv2": 0.75, "output": 0.5})
    pruned = digits.prune_weights(trained, sparsity)
    assert digits.zero_weights(pruned) == digits.weight_count(trained) - digits.weight_count(small)
    assert digits.zero_weights(trained) == 0  # the original is untouched


def test_masked_finetuning_keeps_the_zeros(trained, data):
    pruned = digits.prune_weights(trained, {"conv2": 0.5})
    tuned = digits.finetune_masked(pruned, data, epochs=1)
    assert digits.zero_weights(tuned) == digits.zero_weights(pruned)


def test_input_codes_follow_the_input_quantization(int8_graph, data):
    codes = digits.input_codes(int8_graph, data.x_test)
    q = int8_graph.tensors[int8_graph.inputs[0]].quantization
    assert codes.dtype == np.int8 and codes.shape == (360, 64)
    back = (codes.astype(np.float32) - q.zero_point[0]) * q.scale[0]
    assert np.abs(back - data.x_test.reshape(360, -1)).max() <= q.scale[0] / 2 + 1e-6


def test_tflm_shows_a_tensor_inside_the_model(int8_graph, data):
    codes = digits.input_codes(int8_graph, data.x_test[:20])
    conv = int8_graph.ops[0]
    inside = tflm.run_tensor(int8_graph, codes, conv.outputs[0])
    assert inside.shape == (20, 8 * 8 * 8)
    last = tflm.run_tensor(int8_graph, codes, int8_graph.outputs[0])
    assert np.array_equal(last, tflm.run(int8_graph, codes))
    # the NumPy reference of the whole graph agrees with TFLM at the output
    assert np.array_equal(ops.run(int8_graph, codes).reshape(20, -1), last)


@pytest.mark.parametrize("call, error, message", [
    (lambda: digits.load(0, n_test=0), ValueError, "n_test must be positive"),
    (lambda: digits.load(0, n_val=900, n_test=900), ValueError, "no training image"),
    (lambda: digits.cnn((8,)), TypeError, "pair of filter counts"),
    (lambda: digits.cnn((8, 0)), ValueError, r"filters\[1\] must be positive"),
    (lambda: digits.dense_baseline(0), ValueError, "hidden must be positive"),
])
def test_bad_arguments_are_named(tf, call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_bad_model_and_data_are_named(tf, trained, data, int8_graph):
    with pytest.raises(TypeError, match="made by digits.cnn"):
        digits.filter_scores(digits.dense_baseline())
    with pytest.raises(ValueError, match="filters kept in conv2 must be at most 16"):
        digits.remove_filters(trained, (4, 17))
    with pytest.raises(ValueError, match="no layer with a kernel named"):
        digits.prune_weights(trained, {"pool1": 0.5})
    with pytest.raises(ValueError, match=r"shape \(n, 8, 8, 1\)"):
        digits.accuracy(trained, data.x_test[:, :4], data.y_test)
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        digits.accuracy(trained, data.x_test, data.y_test + 1)
    with pytest.raises(ValueError, match="unknown target"):
        digits.board_outputs(int8_graph, np.zeros((1, 64), np.int8), "esp32")
    with pytest.raises(ValueError, match=r"tensor must be an index of the model's \d+ tensors"):
        tflm.run_tensor(int8_graph, np.zeros((1, 64), np.int8), 999)
